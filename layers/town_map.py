"""The first map page: town, communities, workstations, coverage, stations and the grid as
switchable folium layers. Every script and stylesheet is served by the app (/vendor/...), and
the layers fetch their GeoJSON from the app's own API, so the page stays small.
"""

from __future__ import annotations

import folium
from branca.element import MacroElement
from folium.map import Layer
from jinja2 import Template

LEAFLET_JS = [("leaflet", "/vendor/leaflet/dist/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", "/vendor/leaflet/dist/leaflet.css")]
CENTER = (30.905, 121.915)  # Dishui Lake, Lingang


class RemoteGeoJson(Layer):
    """A GeoJSON overlay whose data the browser fetches from a URL of the app."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {
            style: function (feature) {
                var style = Object.assign({}, {{ this.style|tojson }});
                var by = style.styleBy;  // ["property", {value: colour}]: colour each feature by a property
                if (by && feature && feature.properties) {
                    var colour = by[1][feature.properties[by[0]]];
                    if (colour) { style.color = colour; style.fillColor = colour; } else { style.fillOpacity = 0; }
                }
                delete style.styleBy;
                return style;
            },
            pointToLayer: function (feature, latlng) {
                return L.circleMarker(latlng, {{ this.style|tojson }});
            },
            onEachFeature: function (feature, layer) {
                var p = feature.properties || {};
                var text = {{ this.label|tojson }}.map(function (k) { return p[k]; })
                    .filter(function (v) { return v !== undefined && v !== null; }).join(" ");
                if (text) {
                    var span = document.createElement("span");
                    span.textContent = text;  // names are shown as text, never as HTML
                    layer.bindTooltip(span, {sticky: true});
                }
            }
        });  // folium's Layer adds it to the map only when shown (show=False: off until switched on)
        (function (layer, map) {
            var loaded = false;
            // Fetch on first display only: hidden layers (the grid) cost nothing until switched on.
            function load() {
                if (loaded || !map.hasLayer(layer)) { return; }
                loaded = true;
                fetch({{ this.url|tojson }}, {credentials: "same-origin"})
                    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
                    .then(function (data) {
                        layer.addData(data);
                        document.body.dataset["layer_{{ this.key }}"] = String(data.features.length);
                    })
                    .catch(function (err) {
                        loaded = false;
                        console.warn("layer {{ this.key }} not loaded:", err.message);
                    });
            }
            layer.on("add", function () { setTimeout(load, 0); });
            setTimeout(load, 0);
        })({{ this.get_name() }}, {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, key: str, url: str, name: str, style: dict, label: list[str], show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "RemoteGeoJson"
        self.key = key
        self.url = url
        self.style = style
        self.label = label


class Legend(MacroElement):
    """A static legend box (text only, escaped by Jinja)."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <details class="map-legend" open>
          <summary>{{ this.title }}</summary>
          {% for colour, text, kind in this.items %}
          <div data-kind="{{ kind }}">
            <span class="swatch swatch-{{ kind }}" style="background: {{ colour }}"></span>{{ text }}
          </div>
          {% endfor %}
        </details>
        {% endmacro %}
        """,
        autoescape=True,
    )

    def __init__(self, title: str, items: list[tuple[str, str, str]]):
        """`items`: (colour, label, kind) with kind `area`, `line` or `point` (the swatch's shape)."""
        super().__init__()
        self.title = title
        self.items = items


class MapHandle(MacroElement):
    """Exposes the folium map to the console scripts as `window.nhMap` (they load after it)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.nhMap = {{ this._parent.get_name() }};
        window.nhLayers = window.nhLayers || {};
        {% endmacro %}
        """
    )


class RegisterLayer(MacroElement):
    """Makes a folium layer reachable from the console scripts as `window.nhLayers[key]`."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.nhLayers = window.nhLayers || {};
        window.nhLayers[{{ this.key|tojson }}] = {{ this.layer.get_name() }};
        {% endmacro %}
        """
    )

    def __init__(self, key: str, layer):
        super().__init__()
        self.key = key
        self.layer = layer


def town_map(labels: dict[str, str], basemap_url: str = "", basemap_attribution: str = "",
             extra: list[tuple] = ()) -> folium.Map:
    """Build the map; `labels` are the translated layer names, `extra` more (key, url, name, style, label, show).

    The offline basemap (town, Dishui Lake, roads, named places) is drawn from our own data under any
    tile layer, so the map is never blank on an intranet without tiles.
    """
    m = folium.Map(location=CENTER, zoom_start=12, tiles=None, control_scale=False, prefer_canvas=True)
    m.default_js = LEAFLET_JS
    m.default_css = LEAFLET_CSS
    MapHandle().add_to(m)
    if basemap_url:
        tiles = folium.TileLayer(basemap_url, attr=basemap_attribution or " ", name=labels["basemap"])
        tiles.add_to(m)
        RegisterLayer("tiles", tiles).add_to(m)
    layers = [
        ("town", labels["town"], {"color": "#1f3a93", "weight": 3, "fill": True, "fillColor": "#eef3f8",
                                  "fillOpacity": 1 if not basemap_url else 0.1}, ["name"], True),
        ("water", labels.get("water", "Water"), {"color": "#5dade2", "weight": 1, "fillColor": "#aed6f1",
                                                  "fillOpacity": 0.9}, ["name"], True),
        ("roads", labels["roads"], {"color": "#b0a58c", "weight": 1.5}, ["name"], True),
        ("grid_cells", labels["grid_cells"], {"color": "#7f8c8d", "weight": 0.4, "fillOpacity": 0.02},
         ["code"], False),
        ("workstations", labels["workstations"], {"color": "#16a085", "weight": 1.5, "fillOpacity": 0.04,
                                                  "dashArray": "4 3"}, ["code", "name"], True),
        ("communities", labels["communities"], {"color": "#c0392b", "weight": 2.5, "fillOpacity": 0.0},
         ["name"], True),
        ("station_coverage", labels["station_coverage"], {"color": "#8e44ad", "weight": 2, "fillOpacity": 0.05},
         ["name"], False),
        ("stations", labels["stations"], {"color": "#d35400", "radius": 6, "weight": 2, "fillOpacity": 0.9},
         ["name"], True),
    ]
    urls = {"water": "/api/v1/basemap/water", "places": "/api/v1/basemap/places"}
    layers.append(("places", labels.get("places", "Places"), {"color": "#34495e", "radius": 3, "weight": 1,
                                                              "fillOpacity": 0.8}, ["name"], True))
    for key, name, style, label, show in layers:
        layer = RemoteGeoJson(key, urls.get(key, f"/api/v1/layers/{key}"), name, style, label, show)
        layer.add_to(m)
        RegisterLayer(key, layer).add_to(m)
    for key, url, name, style, label, show in extra:
        layer = RemoteGeoJson(key, url, name, style, label, show)
        layer.add_to(m)
        RegisterLayer(key, layer).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    Legend(labels["legend"], [legend_item(name, style) for _key, name, style, _label, _show in layers]
           + [legend_item(name, style) for _key, _url, name, style, _label, _show in extra]).add_to(m)
    return m


def legend_item(name: str, style: dict) -> tuple[str, str, str]:
    """A layer's legend line: its colour and the shape of its swatch (a point, a line or an area)."""
    if "radius" in style:
        kind = "point"
    elif style.get("fill") or style.get("fillOpacity") or "styleBy" in style:
        kind = "area"
    else:
        kind = "line"
    solid = kind == "area" and style.get("fillOpacity", 0) >= 0.5  # drawn by its fill more than by its edge
    return (style.get("fillColor") or style["color"]) if solid else style["color"], name, kind
