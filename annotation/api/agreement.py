"""GET /api/projects/{id}/agreement/: agreement and annotator quality for managers and engineers.

Shape: {krippendorff_alpha, percent_agreement, fleiss_kappa, n_items, n_judgements,
by_criterion: {name: {krippendorff_alpha, percent_agreement, fleiss_kappa, n_items, n_judgements}},
by_day: [{day, krippendorff_alpha, percent_agreement, fleiss_kappa, n_items, n_judgements}],
annotators: [{username, annotator_id, n, median_ms, agreement_with_majority, n_shared, gold_accuracy,
left_rate, left_rate_p, tie_rate, both_bad_rate, skip_rate, flags_raised (judgements with a flag),
reliability (Dawid-Skene accuracy), flagged_reasons, is_ai, paused, paused_reason}]};
null wherever a number is undefined. Units of agreement are response pairs (a K-way ranking gives
C(K, 2)); `n_items` counts units with two or more judgements; a unit counts in `by_day` on the day
of its latest judgement. Cached for 60 s under the project's latest judgement id.
"""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import TRAINING_ROLES, require_role
from annotation.selectors.agreement import project_agreement
from annotation.selectors.projects import project_get_for_user


class AgreementView(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT},
        summary="Inter-annotator agreement and per-annotator quality (managers, engineers)",
    )
    def get(self, request, project_id: int):
        project = project_get_for_user(user=request.user, project_id=project_id)
        require_role(user=request.user, project=project, roles=TRAINING_ROLES, action="see agreement")
        return Response(project_agreement(project=project))
