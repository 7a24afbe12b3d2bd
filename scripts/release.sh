#!/usr/bin/env bash
# Build what a release ships, from this checkout: the chart package and the image, at the version pyproject.toml
# and the chart's appVersion agree on (the image's `kubecharge --version` is checked against it).
#   bash scripts/release.sh build          dist/kubecharge-<chart version>.tgz and the image <IMAGE>:<version>
#   bash scripts/release.sh chart          only the chart package (no Docker needed)
#   bash scripts/release.sh push           build, then push the image and the chart (log in to the registry first)
# IMAGE defaults to ghcr.io/kubecharge/kubecharge, CHART_REPOSITORY to oci://ghcr.io/kubecharge/charts.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-ghcr.io/kubecharge/kubecharge}"
CHART_REPOSITORY="${CHART_REPOSITORY:-oci://ghcr.io/kubecharge/charts}"
HELM="$(command -v helm || echo .tools/bin/helm)"

die() { echo "error: $*" >&2; exit 1; }

version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
chart_version=$(sed -n 's/^version: *//p' charts/kubecharge/Chart.yaml)
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/kubecharge/Chart.yaml)
[ "$version" = "$app_version" ] || die "pyproject.toml says $version but the chart's appVersion is $app_version: make them equal"
git diff --quiet HEAD -- 2>/dev/null || echo "warning: the checkout has uncommitted changes; a release is built from a clean tag" >&2

chart() {
  [ -x "$HELM" ] || die "helm is not installed (bash scripts/dev.sh setup puts it in .tools/bin)"
  mkdir -p dist
  "$HELM" lint charts/kubecharge >/dev/null
  "$HELM" package charts/kubecharge --destination dist >/dev/null
  echo "chart: dist/kubecharge-$chart_version.tgz (appVersion $app_version)"
}

image() {
  command -v docker >/dev/null || die "docker is not installed"
  docker build --pull --tag "$IMAGE:$version" .
  said=$(docker run --rm "$IMAGE:$version" --version)
  [ "$said" = "kubecharge $version" ] || die "the image says '$said', expected 'kubecharge $version'"
  echo "image: $IMAGE:$version"
}

case "${1:-}" in
  chart) chart ;;
  build) chart; image ;;
  push)
    chart; image
    docker push "$IMAGE:$version"
    "$HELM" push "dist/kubecharge-$chart_version.tgz" "$CHART_REPOSITORY"
    ;;
  *) echo "usage: bash scripts/release.sh chart|build|push" >&2; exit 2 ;;
esac
