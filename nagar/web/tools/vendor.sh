#!/usr/bin/env bash
# Re-creates nagar/web/static/vendor/ and static/geo/countries.geojson from the npm registry.
# The dashboard never loads anything from outside at run time (closed city networks): the files this
# script copies are shipped inside the package. Needs node and npm; run from anywhere.
set -euo pipefail
LEAFLET=1.9.4
CHARTJS=4.6.1
WORLD_ATLAS=2.0.2
TOPOJSON_CLIENT=3.1.0
SWAGGER_UI=5.35.0

web="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm init -y >/dev/null
# --ignore-scripts: swagger-ui-dist's dependency @scarf/scarf reports home from an install script
npm install --no-audit --no-fund --silent --ignore-scripts \
  "leaflet@$LEAFLET" "chart.js@$CHARTJS" "world-atlas@$WORLD_ATLAS" "topojson-client@$TOPOJSON_CLIENT" \
  "swagger-ui-dist@$SWAGGER_UI"

vendor="$web/static/vendor"
rm -rf "$vendor/leaflet" "$vendor/chartjs"
mkdir -p "$vendor/leaflet/images" "$vendor/chartjs"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$vendor/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$vendor/leaflet/images/"
cp node_modules/leaflet/LICENSE "$vendor/leaflet/LICENSE"
cp node_modules/chart.js/dist/chart.umd.min.js "$vendor/chartjs/"
cp node_modules/chart.js/LICENSE.md "$vendor/chartjs/LICENSE.md"
cp node_modules/world-atlas/LICENSE "$web/static/geo/LICENSE-world-atlas"
rm -rf "$vendor/swagger-ui" && mkdir -p "$vendor/swagger-ui"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
   node_modules/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt node_modules/swagger-ui-dist/LICENSE \
   node_modules/swagger-ui-dist/NOTICE "$vendor/swagger-ui/"

NODE_PATH="$tmp/node_modules" node "$web/tools/make_countries.cjs" \
  node_modules/world-atlas/countries-50m.json "$web/static/geo/countries.geojson"
printf 'leaflet %s\nchart.js %s\nworld-atlas %s (Natural Earth 4.1.0, public domain)\nswagger-ui-dist %s\n' \
  "$LEAFLET" "$CHARTJS" "$WORLD_ATLAS" "$SWAGGER_UI" > "$vendor/VERSIONS.txt"
echo "vendored into $vendor"
