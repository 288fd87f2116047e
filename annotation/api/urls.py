"""API routes (mounted under /api/). Other parts append their own lines at the end of the list."""
from django.urls import path

from annotation.api import annotate, auth, exports, imports, projects, tasks
from annotation.api import dashboard as dashboard_api
from annotation.api import prefetch as prefetch_api
from annotation.api import agreement as agreement_api
from annotation.api import iterations as iterations_api
from annotation.api import generations as generations_api

urlpatterns: list = [
    path("auth/token/", auth.TokenView.as_view(), name="auth-token"),
    path("auth/session/", auth.SessionView.as_view(), name="auth-session"),
    path("me/", auth.MeView.as_view(), name="me"),
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:project_id>/", projects.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", projects.MemberListView.as_view(), name="project-members"),
    path("projects/<int:project_id>/members/<int:user_id>/", projects.MemberDetailView.as_view(), name="project-member"),
    path("projects/<int:project_id>/import/", imports.ImportView.as_view(), name="project-import"),
    path("projects/<int:project_id>/export/", exports.ExportView.as_view(), name="project-export"),
    path("projects/<int:project_id>/tasks/", tasks.TaskListView.as_view(), name="project-tasks"),
    path("projects/<int:project_id>/next/", annotate.NextView.as_view(), name="project-next"),
    path("tasks/<int:task_id>/", tasks.TaskDetailView.as_view(), name="task-detail"),
    path("tasks/<int:task_id>/gold/", tasks.TaskGoldView.as_view(), name="task-gold"),
    path("assignments/<int:assignment_id>/judgement/", annotate.JudgementView.as_view(), name="assignment-judgement"),
    path("assignments/<int:assignment_id>/skip/", annotate.SkipView.as_view(), name="assignment-skip"),
    path("judgements/<int:judgement_id>/replace/", annotate.ReplaceView.as_view(), name="judgement-replace"),
    path("me/workload/", dashboard_api.my_workload, name="me-workload"),
    path("projects/<int:project_id>/dashboard/", dashboard_api.dashboard, name="project-dashboard"),
    path("projects/<int:project_id>/prefetch/", prefetch_api.PrefetchView.as_view(), name="project-prefetch"),
    path("projects/<int:project_id>/agreement/", agreement_api.AgreementView.as_view(), name="project-agreement"),
    path("projects/<int:project_id>/iterations/", iterations_api.IterationListView.as_view(), name="project-iterations"),
    path("projects/<int:project_id>/generations/", generations_api.GenerationListView.as_view(),
         name="project-generations"),
    path("projects/<int:project_id>/leaderboard/", iterations_api.LeaderboardView.as_view(), name="project-leaderboard"),
    path("iterations/<int:iteration_id>/", iterations_api.IterationDetailView.as_view(), name="iteration-detail"),
    path("iterations/<int:iteration_id>/cancel/", iterations_api.IterationCancelView.as_view(), name="iteration-cancel"),
    path("iterations/<int:iteration_id>/resume/", iterations_api.IterationResumeView.as_view(), name="iteration-resume"),
]
