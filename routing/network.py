"""The road network: a directed graph of road segments, snapping of arbitrary points, shortest paths.

Built from segments (a centre line between two intersections, with one-way flag in the direction
of the geometry and a speed). Coordinates are metric (EPSG:4550); segment ends closer than
`node_tolerance_m` are one node. Points are snapped only to segments of the largest strongly
connected part, so that a snapped point can always reach, and be reached from, every other one.

Shortest paths are one bidirectional Dijkstra per route over the networkx DiGraph's adjacency (edge
attributes `length` in metres, `time` in seconds), between a virtual start and a virtual end on the
snapped segments; many-to-many costs (patrol planning, siting) run on the same graph as a scipy
sparse matrix.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString
from shapely.ops import substring

WEIGHTS = ("time", "length")
DEFAULT_SPEED_KPH = 30.0
MAX_SNAP_M = 500.0


class Unreachable(ValueError):
    """No path: a point too far from every road, or one-way streets that do not lead there."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Segment:
    """One road centre line in metric coordinates."""

    id: int
    name: str
    kind: str
    oneway: bool
    speed_kph: float
    line: LineString

    @property
    def length(self) -> float:
        """Metres."""
        return float(self.line.length)

    @property
    def seconds(self) -> float:
        """Travel time at the segment's speed."""
        return self.length / (max(self.speed_kph, 1.0) / 3.6)


@dataclass(frozen=True)
class Snap:
    """A point placed on the network: segment index, distance along it, how far the point was."""

    seg: int
    offset: float
    distance: float
    x: float
    y: float


@dataclass
class Route:
    """A path in metric coordinates with its length and time."""

    coords: list[tuple[float, float]]
    length_m: float
    time_s: float
    nodes: list[int] = field(default_factory=list)


class RoadNetwork:
    """A routable road network."""

    def __init__(self, segments: list[Segment], node_tolerance_m: float = 0.5, key: object = None) -> None:
        if not segments:
            raise ValueError("the road network has no segments")
        self.key = key
        self.segments = segments
        self.graph = nx.DiGraph()
        ends: dict[tuple[int, int], int] = {}
        xy: list[tuple[float, float]] = []

        def node(pt: Sequence[float]) -> int:
            k = (round(pt[0] / node_tolerance_m), round(pt[1] / node_tolerance_m))
            if k not in ends:
                ends[k] = len(xy)
                xy.append((float(pt[0]), float(pt[1])))
            return ends[k]

        self.seg_nodes = np.zeros((len(segments), 2), dtype=int)
        self._length = [s.length for s in segments]  # read on every route: computed once
        self._seconds = [s.seconds for s in segments]
        self._coords = [list(s.line.coords) for s in segments]
        for i, s in enumerate(segments):
            coords = s.line.coords
            u, v = node(coords[0]), node(coords[-1])
            self.seg_nodes[i] = (u, v)
            if u == v:
                continue
            self._add(u, v, i, True, s)
            if not s.oneway:
                self._add(v, u, i, False, s)
        self.node_xy = np.array(xy)
        self.graph.add_nodes_from(range(len(xy)))
        core = max(nx.strongly_connected_components(self.graph), key=len)
        self.core = core
        self.routable = np.array([int(u) in core and int(v) in core and u != v for u, v in self.seg_nodes])
        self._tree_ids = np.flatnonzero(self.routable)
        self._tree = shapely.STRtree([segments[i].line for i in self._tree_ids])
        self._matrices: dict[str, csr_matrix] = {}

    def _add(self, u: int, v: int, seg: int, forward: bool, s: Segment) -> None:
        old = self.graph.get_edge_data(u, v)
        if old is None or old["time"] > s.seconds:  # parallel segments: keep the quicker
            self.graph.add_edge(u, v, length=s.length, time=s.seconds, seg=seg, forward=forward)

    # --- snapping --------------------------------------------------------------------------

    def snap(self, x: float, y: float, field: str = "point", max_m: float = MAX_SNAP_M) -> Snap:
        """The nearest point on a routable segment; Unreachable when farther than `max_m`."""
        s = self.snap_many(np.array([[x, y]]), max_m=np.inf)[0]
        if s is None:  # no routable segment at all, or a point that is not finite
            raise Unreachable(field, f"{field} cannot be placed on any road of the network")
        if s.distance > max_m:
            raise Unreachable(field, f"{field} is {s.distance:.0f} m from the nearest road (limit {max_m:.0f} m)")
        return s

    def snap_many(self, xy: np.ndarray, max_m: float = MAX_SNAP_M) -> list[Snap | None]:
        """Snap many points at once; None for a point farther than `max_m` from every road."""
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        pts = shapely.points(xy)
        idx, dist = self._tree.query_nearest(pts, return_distance=True, all_matches=False)
        out: list[Snap | None] = [None] * len(xy)
        for (pi, ti), d in zip(idx.T, dist, strict=True):
            if d > max_m or out[pi] is not None:
                continue
            seg = int(self._tree_ids[ti])
            line = self.segments[seg].line
            offset = float(line.project(pts[pi]))
            on = line.interpolate(offset)
            out[pi] = Snap(seg, offset, float(d), float(on.x), float(on.y))
        return out

    def node_snap(self, node: int) -> Snap:
        """A snap exactly on a node (through one of its routable segments)."""
        for i in np.flatnonzero(self.routable & ((self.seg_nodes[:, 0] == node) | (self.seg_nodes[:, 1] == node))):
            at_start = self.seg_nodes[i, 0] == node
            offset = 0.0 if at_start else self.segments[i].length
            x, y = self.node_xy[node]
            return Snap(int(i), offset, 0.0, float(x), float(y))
        raise Unreachable("node", f"node {node} is not on the routable network")

    # --- costs of partial segments ----------------------------------------------------------

    def _part(self, seg: int, a: float, b: float, weight: str) -> float:
        length = self._length[seg]
        share = abs(b - a) / length if length else 0.0
        return share * (self._seconds[seg] if weight == "time" else length)

    def exits(self, snap: Snap, weight: str) -> list[tuple[int, float]]:
        """(node, cost) to leave a snapped point along its segment."""
        s = self.segments[snap.seg]
        u, v = self.seg_nodes[snap.seg]
        out = [(int(v), self._part(snap.seg, snap.offset, s.length, weight))]
        if not s.oneway:
            out.append((int(u), self._part(snap.seg, 0.0, snap.offset, weight)))
        return _at_ends(out, snap, s, int(u), int(v))

    def entries(self, snap: Snap, weight: str) -> list[tuple[int, float]]:
        """(node, cost) to reach a snapped point along its segment."""
        s = self.segments[snap.seg]
        u, v = self.seg_nodes[snap.seg]
        out = [(int(u), self._part(snap.seg, 0.0, snap.offset, weight))]
        if not s.oneway:
            out.append((int(v), self._part(snap.seg, snap.offset, s.length, weight)))
        return _at_ends(out, snap, s, int(u), int(v))

    def _direct(self, a: Snap, b: Snap, weight: str) -> float | None:
        """Cost along the shared segment without leaving it, if allowed."""
        if a.seg != b.seg:
            return None
        if b.offset >= a.offset or not self.segments[a.seg].oneway:
            return self._part(a.seg, a.offset, b.offset, weight)
        return None

    # --- shortest paths ----------------------------------------------------------------------

    def route(self, a: Snap, b: Snap, weight: str = "time") -> Route:
        """The best path from a to b by `weight`; Unreachable when none exists. One bidirectional search
        between a virtual start (joined to the nodes `a` can leave by, at the cost of the partial segment)
        and a virtual end (joined likewise to the nodes that reach `b`)."""
        if weight not in WEIGHTS:
            raise ValueError(f"weight must be one of {WEIGHTS}")
        found = self._search(dict(self.exits(a, weight)), dict(self.entries(b, weight)), weight)
        direct = self._direct(a, b, weight)
        if direct is not None and (found is None or direct <= found[0]):
            return self._assemble_direct(a, b)
        if found is None:
            raise Unreachable("to", "no path between these points over the road network (one-way streets?)")
        return self._assemble(a, b, found[1])

    def _search(self, starts: dict[int, float], ends: dict[int, float], weight: str) -> tuple[float, list[int]] | None:
        """Bidirectional Dijkstra from the virtual start (`starts`: node -> cost to it) to the virtual end
        (`ends`: node -> cost from it): (cost, nodes from a start node to an end node), or None."""
        adjacency = (self.graph._succ, self.graph._pred)  # networkx's own adjacency dicts: read only
        done: tuple[dict[int, float], dict[int, float]] = ({}, {})
        seen = (dict(starts), dict(ends))
        parent: tuple[dict[int, int | None], dict[int, int | None]] = (dict.fromkeys(starts), dict.fromkeys(ends))
        fringe: tuple[list, list] = ([(c, n) for n, c in starts.items()], [(c, n) for n, c in ends.items()])
        heapq.heapify(fringe[0])
        heapq.heapify(fringe[1])
        best, meet = np.inf, None
        for node, c in starts.items():
            if node in ends and c + ends[node] < best:
                best, meet = c + ends[node], node
        side = 1
        while fringe[0] and fringe[1]:
            if fringe[0][0][0] + fringe[1][0][0] >= best:
                break  # no path through an unsettled node can be shorter than the one found
            side = 1 - side
            d, v = heapq.heappop(fringe[side])
            if v in done[side]:
                continue
            done[side][v] = d
            other = seen[1 - side]
            for w, edge in adjacency[side][v].items():
                dw = d + edge[weight]
                if w in done[side] or dw >= seen[side].get(w, np.inf):
                    continue
                seen[side][w] = dw
                parent[side][w] = v
                heapq.heappush(fringe[side], (dw, w))
                if w in other and dw + other[w] < best:
                    best, meet = dw + other[w], w
        if meet is None:
            return None
        return float(best), _walk(parent[0], meet)[::-1] + _walk(parent[1], parent[1][meet])

    def _assemble_direct(self, a: Snap, b: Snap) -> Route:
        line = self.segments[a.seg].line
        part = substring(line, a.offset, b.offset)
        coords = list(part.coords) if part.geom_type == "LineString" else [(a.x, a.y), (b.x, b.y)]
        return Route(coords, self._part(a.seg, a.offset, b.offset, "length"),
                     self._part(a.seg, a.offset, b.offset, "time"), [])

    def _assemble(self, a: Snap, b: Snap, nodes: list[int]) -> Route:
        coords: list[tuple[float, float]] = []
        length = time = 0.0
        first, last = nodes[0], nodes[-1]
        u, _ = self.seg_nodes[a.seg]
        start_to = 0.0 if first == u else self._length[a.seg]
        pieces = [(a.seg, a.offset, start_to)]
        succ = self.graph._succ
        for p, q in zip(nodes[:-1], nodes[1:], strict=True):
            e = succ[p][q]
            whole = self._length[e["seg"]]
            pieces.append((e["seg"], 0.0, whole) if e["forward"] else (e["seg"], whole, 0.0))
        u, _ = self.seg_nodes[b.seg]
        pieces.append((b.seg, 0.0 if last == u else self._length[b.seg], b.offset))
        for seg, x0, x1 in pieces:
            if abs(x1 - x0) < 1e-9:
                continue
            pts = self._piece(seg, x0, x1)
            if coords and pts and _close(coords[-1], pts[0]):
                pts = pts[1:]
            coords.extend(pts)
            length += self._part(seg, x0, x1, "length")
            time += self._part(seg, x0, x1, "time")
        if len(coords) < 2:
            coords = [(a.x, a.y), (b.x, b.y)]
        return Route(coords, length, time, list(nodes))

    def _piece(self, seg: int, x0: float, x1: float) -> list[tuple[float, float]]:
        """The coordinates of a segment from x0 to x1 metres along it (a whole one without cutting)."""
        whole = self._length[seg]
        if (x0, x1) == (0.0, whole):
            return self._coords[seg]
        if (x0, x1) == (whole, 0.0):
            return self._coords[seg][::-1]
        return list(substring(self.segments[seg].line, x0, x1).coords)

    def _matrix(self, weight: str) -> csr_matrix:
        if weight not in self._matrices:
            rows, cols, data = [], [], []
            for u, v, d in self.graph.edges(data=True):
                rows.append(u)
                cols.append(v)
                data.append(max(d[weight], 1e-6))  # a zero would read as "no edge"
            n = len(self.node_xy)
            self._matrices[weight] = csr_matrix((data, (rows, cols)), shape=(n, n))
        return self._matrices[weight]

    def costs(self, sources: list[Snap], targets: list[Snap], weight: str = "length") -> np.ndarray:
        """Cost matrix sources x targets over the network (inf where no path)."""
        exits = [self.exits(s, weight) for s in sources]
        nodes = sorted({n for ex in exits for n, _ in ex})
        where = {n: i for i, n in enumerate(nodes)}
        dist = dijkstra(self._matrix(weight), directed=True, indices=nodes) if nodes else np.zeros((0, 0))
        entry_nodes = np.full((len(targets), 3), -1)
        entry_cost = np.full((len(targets), 3), np.inf)
        for j, t in enumerate(targets):
            for k, (n, c) in enumerate(self.entries(t, weight)):
                entry_nodes[j, k], entry_cost[j, k] = n, c
        out = np.full((len(sources), len(targets)), np.inf)
        for i, ex in enumerate(exits):
            for n, c in ex:
                row = dist[where[n]]
                for k in range(3):
                    valid = entry_nodes[:, k] >= 0
                    cand = np.full(len(targets), np.inf)
                    cand[valid] = c + row[entry_nodes[valid, k]] + entry_cost[valid, k]
                    out[i] = np.minimum(out[i], cand)
        by_seg: dict[int, list[int]] = {}
        for j, t in enumerate(targets):
            by_seg.setdefault(t.seg, []).append(j)
        for i, s in enumerate(sources):
            for j in by_seg.get(s.seg, []):
                direct = self._direct(s, targets[j], weight)
                if direct is not None:
                    out[i, j] = min(out[i, j], direct)
        return out

    def intersections(self) -> list[int]:
        """Nodes of the routable network where three or more segments meet."""
        degree = np.bincount(self.seg_nodes[self.routable].ravel(), minlength=len(self.node_xy))
        return [int(n) for n in np.flatnonzero(degree >= 3)]


def _walk(parent: dict[int, int | None], node: int | None) -> list[int]:
    """The nodes from `node` back to where its search began, following `parent`."""
    out = []
    while node is not None:
        out.append(node)
        node = parent[node]
    return out


def _at_ends(options: list[tuple[int, float]], snap: Snap, s: Segment, u: int, v: int) -> list[tuple[int, float]]:
    """A point on a segment's end node is at that node: it may use every edge there at no cost."""
    if snap.offset <= 1e-6:
        options.append((u, 0.0))
    if snap.offset >= s.length - 1e-6:
        options.append((v, 0.0))
    best: dict[int, float] = {}
    for n, c in options:
        best[n] = min(c, best.get(n, np.inf))
    return sorted(best.items())


def _close(p: Sequence[float], q: Sequence[float], tol: float = 1e-6) -> bool:
    """Two points within `tol` on both axes."""
    return abs(p[0] - q[0]) < tol and abs(p[1] - q[1]) < tol
