from django.urls import include, path

# django-scim2 requires the "scim" namespace, which its urls module declares (app_name).
urlpatterns = [path("scim/v2/", include("django_scim.urls"))]
