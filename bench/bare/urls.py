from django.urls import path

from bench.bare import views

urlpatterns = [
    path("empty", views.EmptyView.as_view()),
    path("lookup", views.LookupView.as_view()),
]
