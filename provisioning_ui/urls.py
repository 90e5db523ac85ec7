from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from provisioning_ui import access_rights, activity, lifecycle, log, members, roles, setup, views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("activity/", activity.activity, name="activity"),
    path("connection/test/", views.test_connection, name="test_connection"),
    path("members/", members.members, name="members"),
    path("members/<str:member_id>/", members.member_detail, name="member_detail"),
    path("log/", log.provisioning_log, name="provisioning_log"),
    path("log/refused/<int:tally_id>/", log.refused_entry, name="refused_entry"),
    path("log/exports/", log.export_create, name="export_create"),
    path("log/retry/", log.log_retry_kind, name="log_retry_kind"),
    path("log/retry/<str:batch_id>/", log.retry_batch_status, name="retry_batch_status"),
    path("log/<str:event_id>/", log.log_entry_view, name="log_entry"),
    path("log/<str:event_id>/retry/", log.log_entry_retry, name="log_entry_retry"),
    path("log/exports/<str:export_id>/", log.export_status, name="export_status"),
    path("log/exports/<str:export_id>/download/", log.export_download, name="export_download"),
    path("waitlist/<str:entry_id>/drop/", lifecycle.waitlist_drop_view, name="waitlist_drop"),
    path("deprovisioning/release/", lifecycle.brake_decide_view, name="brake_decide"),
    path("groups/", roles.groups, name="groups"),
    path("groups/<str:group_id>/", roles.group_detail, name="group_detail"),
    path("setup/<slug:slug>/", setup.setup_guide, name="setup_guide"),
    path("access/", access_rights.access_rights, name="access_rights"),
    path("access/tokens/", access_rights.token_generate, name="token_generate"),
    path("access/basic/", access_rights.basic_generate, name="basic_generate"),
    path(
        "access/credentials/<str:credential_id>/revoke/",
        access_rights.credential_revoke_view,
        name="credential_revoke",
    ),
    path(
        "access/tokens/<str:credential_id>/rotate/",
        access_rights.token_rotate_view,
        name="token_rotate",
    ),
    path(
        "access/tokens/<str:credential_id>/rotation/confirm/",
        access_rights.token_rotation_confirm_view,
        name="token_rotation_confirm",
    ),
    path(
        "access/basic/<str:credential_id>/regenerate/",
        access_rights.basic_regenerate_view,
        name="basic_regenerate",
    ),
    # Sign-in, sign-out, password reset by email: Django's views, our templates.
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="portal/login.html", next_page="dashboard"),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        views.CompanyPasswordResetView.as_view(success_url=reverse_lazy("password_reset_done")),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="portal/password_reset_sent.html"),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.CompanyPasswordResetConfirmView.as_view(
            success_url=reverse_lazy("password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="portal/password_reset_done.html"
        ),
        name="password_reset_complete",
    ),
]
