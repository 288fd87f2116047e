import pytest

from annotation.models import Membership
from annotation.permissions import ADMIN, TRAINING_ROLES, require_role, role_of
from annotation.errors import DomainError
from tests.annotation.factories import add_member, client_for, make_project, make_user

pytestmark = pytest.mark.django_db


def test_a_superuser_acts_as_every_role_even_as_a_member_with_a_narrower_role():
    project = make_project()
    admin = make_user(superuser=True)
    add_member(project, admin, role=Membership.Role.ANNOTATOR)

    assert role_of(user=admin, project=project) == ADMIN
    assert require_role(user=admin, project=project, roles=TRAINING_ROLES, action="train") == ADMIN
    me = client_for(admin).get("/api/me/").json()
    assert [row["role"] for row in me["projects"] if row["id"] == project.pk] == [ADMIN]


def test_an_annotator_may_not_use_engineer_operations_and_a_stranger_sees_nothing():
    project = make_project()
    annotator = make_user()
    add_member(project, annotator, role=Membership.Role.ANNOTATOR)

    with pytest.raises(DomainError) as refused:
        require_role(user=annotator, project=project, roles=TRAINING_ROLES, action="train")
    assert refused.value.http_status == 403
    with pytest.raises(DomainError) as hidden:
        require_role(user=make_user(), project=project, roles=TRAINING_ROLES, action="train")
    assert hidden.value.http_status == 404
