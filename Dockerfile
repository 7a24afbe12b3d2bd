# kubecharge image: slim Python (a pinned release; scripts/release.sh builds and checks it), runtime dependencies only,
# non-root, `kubecharge operator` by default (the chart runs `serve` and `db upgrade` from it too).
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY crds/ crds/
COPY reports_templates/ reports_templates/
RUN python -m venv /opt/kubecharge && /opt/kubecharge/bin/pip install --no-cache-dir /src

FROM python:3.11.14-slim-bookworm
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin kubecharge
COPY --from=build /opt/kubecharge /opt/kubecharge
ENV PATH=/opt/kubecharge/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081
ENTRYPOINT ["kubecharge"]
CMD ["operator"]
