#!/usr/bin/env bash
# Install the Apache Airflow releases the airflow source is tested against, each into its own virtual
# environment under $PAYOUTWATCH_AIRFLOW_CACHE/<version> (default /var/cache/payoutwatch-airflow), with uv.
# An environment is reused when it holds the marker this script writes last (.complete, naming the pins it was
# built with); a half-built or differently pinned one is removed and built again.
# Airflow's own constraint files live on GitHub, out of reach here: .ci/airflow/<version>.txt pins what the
# resolver would otherwise pick wrong (see the comments there).
# Run it as `make airflow`: the Makefile passes the uv it installs into .venv (one pinned uv version, UV_VERSION).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${PAYOUTWATCH_AIRFLOW_CACHE:-/var/cache/payoutwatch-airflow}
versions=(${PAYOUTWATCH_AIRFLOW_VERSIONS:-2.10.5 3.3.2})
uv=${UV:?"run this as 'make airflow', which passes the uv of .venv"}
mkdir -p "$cache"

for version in "${versions[@]}"; do
  venv=$cache/$version
  pins=.ci/airflow/$version.txt
  marker="apache-airflow==$version $(sha256sum "$pins" | cut -c1-16)"
  if [ -f "$venv/.complete" ] && [ "$(cat "$venv/.complete")" = "$marker" ]; then
    echo "airflow $version: reusing $venv"
    continue
  fi
  echo "airflow $version: installing into $venv"
  started=$(date +%s)
  rm -rf "$venv"
  "$uv" venv --quiet --python "$(command -v python3)" "$venv"
  UV_CACHE_DIR=$cache/uv-cache "$uv" pip install --quiet --python "$venv/bin/python" \
    --constraint "$pins" "apache-airflow==$version"
  echo "$marker" >"$venv/.complete"
  echo "airflow $version: installed in $(( $(date +%s) - started )) s"
done
