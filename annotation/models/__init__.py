"""Models of the annotation domain, one module per aggregate."""
from .project import Membership, Project
from .content import Prompt, Response
from .tasks import Assignment, ComparisonTask, Judgement, TaskResponse
from .training import Iteration, PolicyVersion, RewardModelVersion, TrainingJob
from .generation import ResponseGeneration

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
    "ResponseGeneration",
    "RewardModelVersion",
    "TaskResponse",
    "TrainingJob",
]
