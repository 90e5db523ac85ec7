from django.contrib.auth.forms import BaseUserCreationForm, UserChangeForm

from accounts.models import User


class StaffCreationForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)


class StaffChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
