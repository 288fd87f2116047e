"""Models of the annotation domain, one module per aggregate."""
from .project import Membership, Project
from .content import Prompt, Response
from .tasks import Assignment, ComparisonTask, Judgement, TaskResponse
from .training import Iteration, PolicyVersion, RewardModelVersion, TrainingJob

__all__ = [
    "Assignment",
    "ComparisonTask",
    "Iteration",
    "Judgement",
    "Membership",
    "PolicyVersion",
    "Project",
    "Prompt",
    "Response",
    "RewardModelVersion",
    "TaskResponse",
    "TrainingJob",
]
