// Builds static/geo/countries.geojson: Natural Earth 1:50m admin-0 outlines (public domain, via the
// npm package world-atlas 2.0.2 / topojson-client 3.1.0) for Bangladesh, its neighbours, the ASEAN
// countries and East Asia, coordinates rounded to 3 decimals (about 100 m). Run by tools/vendor.sh.
const fs = require("fs");
const path = require("path");
const topo = require("topojson-client");
const [, , atlasPath, outPath] = process.argv;
const KEEP = new Set([
  // South Asia
  "Bangladesh", "India", "Nepal", "Bhutan", "Sri Lanka", "Pakistan",
  // ASEAN
  "Brunei", "Cambodia", "Indonesia", "Laos", "Malaysia", "Myanmar", "Philippines", "Singapore",
  "Thailand", "Vietnam", "Timor-Leste",
  // East Asia, for context
  "China", "Japan", "South Korea", "North Korea", "Taiwan", "Mongolia",
]);
const atlas = JSON.parse(fs.readFileSync(atlasPath, "utf8"));
const all = topo.feature(atlas, atlas.objects.countries);
const round = (c) => (typeof c[0] === "number" ? [Math.round(c[0] * 1e3) / 1e3, Math.round(c[1] * 1e3) / 1e3] : c.map(round));
const features = all.features
  .filter((f) => KEEP.has(f.properties.name))
  .map((f) => ({
    type: "Feature",
    id: f.id,
    properties: { name: f.properties.name, iso_n3: f.id },
    geometry: { type: f.geometry.type, coordinates: round(f.geometry.coordinates) },
  }));
const missing = [...KEEP].filter((n) => !features.some((f) => f.properties.name === n));
if (missing.length) throw new Error("not in atlas: " + missing.join(", "));
const out = {
  type: "FeatureCollection",
  source: "Natural Earth 1:50m admin-0 countries v4.1.0 (public domain), via world-atlas 2.0.2",
  features,
};
fs.mkdirSync(path.dirname(outPath), { recursive: true });
fs.writeFileSync(outPath, JSON.stringify(out));
console.log(outPath, features.length, "countries", fs.statSync(outPath).size, "bytes");
