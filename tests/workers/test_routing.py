"""Which queue each task and step goes to: decided by the workers and the Celery settings; the
domain app sends `workers.advance_iteration` by name and names no queue."""
from config.celery import app

from annotation.services.iterations import iteration_steps
from workers.steps import GPU_STEPS, STEP_RUNNERS


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_training_steps_go_to_the_gpu_queue_and_bookkeeping_to_default():
    assert queue_of("workers.run_gpu_step") == "gpu"
    assert queue_of("workers.generate_responses_chunk") == "gpu"  # sampling a model, sent by name
    assert queue_of("workers.run_db_step") == queue_of("workers.advance_iteration") == "default"
    every_step = set(iteration_steps(algorithm="ppo", rlaif=True)) | {"dpo", "rloo"}
    assert every_step == set(STEP_RUNNERS)
    assert every_step - GPU_STEPS == {"snapshot", "evaluate"}
