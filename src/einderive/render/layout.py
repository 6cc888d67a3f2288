"""A layered (Sugiyama) layout of the compute graph, shared by every picture format.

Pure geometry: boxes with sizes and edges in, coordinates out.  Layers run
top to bottom in the order of computation; an edge that spans several layers
passes through a dummy slot in each layer between, so every route is a
polyline that runs vertically inside a layer (where only its own box or slot
lies on it) and crosses the gaps between layers, where no box is.  Each edge
has two parallel lines, forward (to the consumer) and backward (to the
operand, carrying the gradient's label).  A label sits in a lane of the gap
just above the consumer (the use it comes from; a shared input's labels so
spread over the layers its uses are in), so it never touches a box, and no two
labels of a gap share a lane where they would overlap.  Units are points, y
grows down.

Own code rather than a library (grandalf, the one pure-Python Sugiyama on
PyPI, was last released in 2023 and would be a sixth runtime dependency for
some 250 lines): the steps are the textbook ones (longest-path layers,
barycentre sweeps, isotonic coordinate placement) and every tie breaks on
input order, so the output is the same on every run.
"""

from __future__ import annotations

import unicodedata
from typing import TypedDict

from ..record import Record

SWEEPS = 8  # barycentre sweeps (alternating down and up); the best ordering seen is kept
H_GAP = 24.0  # between neighbouring boxes of a layer
V_GAP = 36.0  # between layers, before labels make room
LEAD = 12.0  # of an edge left visible above and below its label
LANE_PAD = 4.0  # around a label in its lane
LINE_GAP = 3.0  # half the distance between an edge's forward and backward lines
PORT_PITCH = 14.0  # room one edge's pair of lines takes on a box side
DUMMY_WIDTH = 2 * LINE_GAP + 8.0
PLACEMENT_PASSES = 6
HIDDEN_LINE_COST = 2  # lanes worth adding to keep one more line out from under a label

Point = tuple[float, float]
Polyline = tuple[Point, ...]
LabelSize = tuple[()] | tuple[float, float]  # (width, height), or () for no label
LabelBox = tuple[()] | tuple[float, float, float, float]  # (x, y, width, height), or ()
Slot = str  # a box's id, or a dummy's ('_<edge>_<layer>')
Chain = list[Slot]  # an edge's slots, layer by layer: operand, dummies, consumer
Port = tuple[str, Slot, int]  # ('out' | 'in', slot, edge number)
LabelItem = tuple[int, float, float, tuple[float, float]]  # edge, x at top, x at bottom, size
Line = tuple[int, float, float]  # edge, x at the gap's top, x at its bottom


class Gap(TypedDict):
    """The room between a layer and the next: its height, and t along its edge per label."""

    height: float
    labels: dict[int, float]


class Box(Record):
    id: str
    width: float
    height: float


class Edge(Record):
    src: str  # the operand
    dst: str  # the node that reads it
    label: LabelSize = ()  # (width, height) of the backward line's label, or () for none


class Placed(Record):
    id: str
    x: float  # centre
    y: float
    width: float
    height: float
    layer: int

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.x - self.width / 2, self.y - self.height / 2,
                self.x + self.width / 2, self.y + self.height / 2)


class Route(Record):
    src: str
    dst: str
    forward: Polyline  # points from the operand's box to the consumer's
    backward: Polyline  # points from the consumer's box back to the operand's
    label: LabelBox = ()  # (x, y, width, height) of the label's box, centred at (x, y)


class Layout(Record):
    boxes: tuple[Placed, ...]  # in input order
    routes: tuple[Route, ...]  # in edge order
    width: float
    height: float


def text_width(text: str, size: float) -> float:
    """An estimate of ``text``'s width in points at font ``size``: per-character em widths."""
    return sum(_char_em(c) for c in text) * size


_NARROW = set("ijlrtf.,:;'|!()[]{} ᵀ")
_WIDE = set("mwMW⊙⊗∑∏−∋∈→←=+×")


def _char_em(c: str) -> float:
    if unicodedata.combining(c):
        return 0.0
    if unicodedata.east_asian_width(c) in "WF":  # names may be any Python identifier
        return 1.0
    if c in _NARROW:
        return 0.36
    if c in _WIDE:
        return 0.86
    if c.isupper() or c in "∂∇":
        return 0.72
    return 0.6


def layered(boxes: list[Box], edges: list[Edge]) -> Layout:
    """Coordinates for ``boxes`` and routes for ``edges`` (operand → consumer, acyclic)."""
    ids = [b.id for b in boxes]
    layer = _layers(ids, edges)
    chains, slots = _chains(ids, layer, edges)
    order = _order(slots, chains)
    size = _sizes(boxes, chains)
    x = _place(order, chains, size)
    ports = _ports(chains, x)
    gaps = _gaps(order, chains, edges, ports)
    y, row = _rows(order, size, gaps)
    layer_of = {v: k for k, slots_k in enumerate(order) for v in slots_k}
    placed = tuple(Placed(b.id, x[b.id], y[layer[b.id]], size[b.id][0], b.height, layer[b.id])
                   for b in boxes)
    routes = tuple(_route(n, e, chain, layer_of, ports, y, row, size, gaps)
                   for n, (e, chain) in enumerate(zip(edges, chains)))
    return _normalise(placed, routes)


# -- layers ------------------------------------------------------------------------------


def _layers(ids: list[str], edges: list[Edge]) -> dict[str, int]:
    """Longest path from the sources; a source sits just above its first consumer."""
    preds: dict[str, list[str]] = {i: [] for i in ids}
    for e in edges:
        preds[e.dst].append(e.src)
    depth: dict[str, int] = {}
    for v in _topological(ids, preds):
        depth[v] = max((depth[u] + 1 for u in preds[v]), default=0)
    for v in ids:
        consumers = [depth[e.dst] for e in edges if e.src == v]
        if not preds[v] and consumers:
            depth[v] = min(consumers) - 1
    low = min(depth.values(), default=0)
    return {v: depth[v] - low for v in ids}


def _topological(ids: list[str], preds: dict[str, list[str]]) -> list[str]:
    """Kahn's order, ties broken by input order (no recursion: a chain may be long)."""
    waiting = {v: len(preds[v]) for v in ids}
    succs: dict[str, list[str]] = {v: [] for v in ids}
    for v in ids:
        for u in preds[v]:
            succs[u].append(v)
    ready = [v for v in ids if not waiting[v]]
    out = []
    while ready:
        v = ready.pop(0)
        out.append(v)
        for w in succs[v]:
            waiting[w] -= 1
            if not waiting[w]:
                ready.append(w)
    if len(out) != len(ids):
        raise ValueError("the graph has a cycle")
    return out


def _chains(ids: list[str], layer: dict[str, int],
            edges: list[Edge]) -> tuple[list[Chain], list[list[Slot]]]:
    """Each edge as its list of slots (box, dummies, box); the slots of every layer."""
    slots: list[list[Slot]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for v in ids:
        slots[layer[v]].append(v)
    chains = []
    for n, e in enumerate(edges):
        dummies = [f"_{n}_{k}" for k in range(layer[e.src] + 1, layer[e.dst])]
        for k, dmy in zip(range(layer[e.src] + 1, layer[e.dst]), dummies):
            slots[k].append(dmy)
        chains.append([e.src, *dummies, e.dst])
    return chains, slots


# -- crossing reduction -------------------------------------------------------------------


def _neighbours(chains: list[Chain]) -> tuple[dict[Slot, list[Slot]], dict[Slot, list[Slot]]]:
    up: dict[Slot, list[Slot]] = {}
    down: dict[Slot, list[Slot]] = {}
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
    return up, down


def _order(slots: list[list[Slot]], chains: list[Chain]) -> list[list[Slot]]:
    """Barycentre sweeps; the ordering with the fewest crossings wins (the first on ties)."""
    up, down = _neighbours(chains)
    order = [list(s) for s in slots]
    best, best_cost = [list(s) for s in order], _crossings(order, down)
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        layers = range(1, len(order)) if downward else range(len(order) - 2, -1, -1)
        for k in layers:
            fixed = order[k - 1] if downward else order[k + 1]
            near = up if downward else down
            order[k] = _by_barycentre(order[k], fixed, near)
        cost = _crossings(order, down)
        if cost < best_cost:
            best, best_cost = [list(s) for s in order], cost
    return best


def _by_barycentre(layer: list[Slot], fixed: list[Slot],
                   near: dict[Slot, list[Slot]]) -> list[Slot]:
    pos = {v: n for n, v in enumerate(fixed)}

    def key(item: tuple[int, Slot]) -> tuple[float, int]:
        n, v = item
        ns = [pos[u] for u in near.get(v, []) if u in pos]
        return (sum(ns) / len(ns) if ns else n, n)

    return [v for _, v in sorted(enumerate(layer), key=key)]


def _crossings(order: list[list[Slot]], down: dict[Slot, list[Slot]]) -> int:
    total = 0
    for upper, lower in zip(order, order[1:]):
        pos = {v: n for n, v in enumerate(lower)}
        pairs = [(i, pos[w]) for i, v in enumerate(upper) for w in down.get(v, []) if w in pos]
        total += sum(1 for a in range(len(pairs)) for b in range(a + 1, len(pairs))
                     if (pairs[a][0] - pairs[b][0]) * (pairs[a][1] - pairs[b][1]) < 0)
    return total


# -- horizontal placement ------------------------------------------------------------------


def _sizes(boxes: list[Box], chains: list[Chain]) -> dict[Slot, Point]:
    """Each slot's (width, height): a box widens to give every edge on a side its own port."""
    up, down = _neighbours(chains)
    size: dict[Slot, Point] = {}
    for b in boxes:
        ports = max(len(up.get(b.id, [])), len(down.get(b.id, [])))
        size[b.id] = (max(b.width, ports * PORT_PITCH + 8.0), b.height)
    for chain in chains:
        for dmy in chain[1:-1]:
            size[dmy] = (DUMMY_WIDTH, 0.0)
    return size


def _place(order: list[list[Slot]], chains: list[Chain],
           size: dict[Slot, Point]) -> dict[Slot, float]:
    """x of every slot: near the mean of its neighbours, in order, never closer than H_GAP."""
    up, down = _neighbours(chains)
    x: dict[Slot, float] = {}
    for layer in order:
        _pack(layer, [0.0] * len(layer), size, x)
    for n in range(PLACEMENT_PASSES):
        near = up if n % 2 == 0 else down
        layers = order[1:] if n % 2 == 0 else order[-2::-1]
        for layer in layers:
            want = [_mean([x[u] for u in near.get(v, [])], x[v]) for v in layer]
            _pack(layer, want, size, x)
    return x


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _pack(layer: list[Slot], want: list[float], size: dict[Slot, Point],
          x: dict[Slot, float]) -> None:
    """Least-squares x near ``want``, keeping order and gaps (pool adjacent violators)."""
    offset, acc = [], 0.0
    for n, v in enumerate(layer):
        if n:
            acc += (size[layer[n - 1]][0] + size[v][0]) / 2 + H_GAP
        offset.append(acc)
    blocks: list[tuple[float, int]] = []  # (mean, count)
    for w, off in zip(want, offset):
        blocks.append((w - off, 1))
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks.pop()
            blocks.append(((m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2))
    values = [m for m, c in blocks for _ in range(c)]
    for v, base, off in zip(layer, values, offset):
        x[v] = base + off


def _ports(chains: list[Chain], x: dict[Slot, float]) -> dict[Port, float]:
    """x of each edge's pair of lines where it leaves (or enters) a slot: ('out'|'in', edge)."""
    ports: dict[tuple[str, Slot], list[tuple[float, int]]] = {}
    for n, chain in enumerate(chains):
        for a, b in zip(chain, chain[1:]):
            ports.setdefault(("out", a), []).append((x[b], n))
            ports.setdefault(("in", b), []).append((x[a], n))
    at: dict[Port, float] = {}
    for (side, v), uses in ports.items():
        uses.sort()
        for k, (_, n) in enumerate(uses):
            at[(side, v, n)] = x[v] + (k - (len(uses) - 1) / 2) * PORT_PITCH
    return at


# -- labels and vertical placement -----------------------------------------------------------


def _gaps(order: list[list[Slot]], chains: list[Chain], edges: list[Edge],
          ports: dict[Port, float]) -> list[Gap]:
    """For each gap between layers: its height and, per label there, t along its segment."""
    layer_of = {v: k for k, layer in enumerate(order) for v in layer}
    gaps: list[Gap] = [{"height": V_GAP, "labels": {}} for _ in order]
    for k in range(len(order)):
        items: list[LabelItem] = []
        lines: list[Line] = []
        for n, (e, chain) in enumerate(zip(edges, chains)):
            for a, b in zip(chain, chain[1:]):
                if layer_of[a] == k:
                    x0, x1 = ports[("out", a, n)], ports[("in", b, n)]
                    lines.append((n, x0, x1))
                    if e.label and b == chain[-1]:
                        items.append((n, x0 + LINE_GAP, x1 + LINE_GAP, e.label))
        if items:
            gaps[k] = _lanes(items, lines)
    return gaps


def _lanes(items: list[LabelItem], lines: list[Line]) -> Gap:
    """Lanes for the gap's labels: none overlapping, few lines hidden, few lanes.

    Every segment in a gap runs from its top to its bottom, so at a lane's
    fraction t of the way down each one's x is known before the gap's height.
    """
    items = sorted(items, key=lambda it: ((it[1] + it[2]) / 2, it[0]))
    best: tuple[tuple[int, int], int, dict[int, float]] | None = None
    for lanes in range(1, len(items) + 1):
        filled = _fill(items, lines, lanes)
        if filled is not None:
            score = (lanes + HIDDEN_LINE_COST * filled[1], lanes)
            if best is None or score < best[0]:
                best = (score, lanes, filled[0])
    assert best is not None  # one lane per label always fits
    _, lanes, placed = best
    lane_h = max(h for *_, (_, h) in items) + 2 * LANE_PAD
    return {"height": max(V_GAP, lanes * lane_h + 2 * LEAD), "labels": placed}


def _fill(items: list[LabelItem], lines: list[Line],
          lanes: int) -> tuple[dict[int, float], int] | None:
    """Each label in the lane hiding the fewest other lines where it does not overlap a label."""
    taken: list[list[tuple[float, float]]] = [[] for _ in range(lanes)]
    placed: dict[int, float] = {}
    hidden = 0
    for n, x0, x1, (w, _) in items:
        options: list[tuple[int, int, int, float, tuple[float, float]]] = []
        for rank, j in enumerate(_lane_preference(lanes)):
            t = (j + 0.5) / lanes
            cx = x0 + t * (x1 - x0)
            span = (cx - w / 2 - LANE_PAD, cx + w / 2 + LANE_PAD)
            if all(span[1] <= a or span[0] >= b for a, b in taken[j]):
                covered = sum(1 for m, a0, a1 in lines
                              if m != n and span[0] - LINE_GAP < a0 + t * (a1 - a0)
                              < span[1] + LINE_GAP)
                options.append((covered, rank, j, t, span))
        if not options:
            return None
        covered, _, j, t, span = min(options)
        taken[j].append(span)
        placed[n] = t
        hidden += covered
    return placed, hidden


def _lane_preference(lanes: int) -> list[int]:
    """Middle lanes first, so a lone label sits halfway along its edge."""
    mid = (lanes - 1) / 2
    return sorted(range(lanes), key=lambda j: (abs(j - mid), j))


def _rows(order: list[list[Slot]], size: dict[Slot, Point],
          gaps: list[Gap]) -> tuple[list[float], list[tuple[float, float]]]:
    """Centre y of each layer, and each layer's (top, bottom)."""
    y: list[float] = []
    row: list[tuple[float, float]] = []
    top = 0.0
    for k, layer in enumerate(order):
        h = max((size[v][1] for v in layer), default=0.0)
        y.append(top + h / 2)
        row.append((top, top + h))
        top += h + gaps[k]["height"]
    return y, row


def _route(n: int, e: Edge, chain: Chain, layer_of: dict[Slot, int], ports: dict[Port, float],
           y: list[float], row: list[tuple[float, float]], size: dict[Slot, Point],
           gaps: list[Gap]) -> Route:
    """The edge's two parallel polylines, through its dummies, and its label's box."""
    src, dst = chain[0], chain[-1]
    ks, kd = layer_of[src], layer_of[dst]
    lines: list[Polyline] = []
    for side in (-LINE_GAP, LINE_GAP):
        pts = [(ports[("out", src, n)] + side, y[ks] + size[src][1] / 2)]
        for a, b in zip(chain, chain[1:]):
            k = layer_of[a]
            pts += [(ports[("out", a, n)] + side, row[k][1]),
                    (ports[("in", b, n)] + side, row[k + 1][0])]
        pts.append((ports[("in", dst, n)] + side, y[kd] - size[dst][1] / 2))
        lines.append(tuple(p for m, p in enumerate(pts) if m == 0 or p != pts[m - 1]))
    label: LabelBox = ()
    if e.label:
        last = chain[-2]  # the label sits on the segment into the consumer
        t = gaps[kd - 1]["labels"][n]
        x0, x1 = ports[("out", last, n)] + LINE_GAP, ports[("in", dst, n)] + LINE_GAP
        y0, y1 = row[kd - 1][1], row[kd][0]
        label = (x0 + t * (x1 - x0), y0 + t * (y1 - y0), *e.label)
    return Route(e.src, e.dst, lines[0], tuple(reversed(lines[1])), label)


def _normalise(placed: tuple[Placed, ...], routes: tuple[Route, ...]) -> Layout:
    """Shift everything so the picture's top left corner is (0, 0)."""
    xs: list[float] = []
    ys: list[float] = []
    for p in placed:
        xs += [p.rect[0], p.rect[2]]
        ys += [p.rect[1], p.rect[3]]
    for r in routes:
        xs += [q[0] for q in r.forward + r.backward]
        ys += [q[1] for q in r.forward + r.backward]
        if r.label:
            lx, ly, w, h = r.label
            xs += [lx - w / 2, lx + w / 2]
            ys += [ly - h / 2, ly + h / 2]
    dx, dy = -min(xs, default=0.0), -min(ys, default=0.0)

    def move(q: tuple[float, ...]) -> Point:
        return (round(q[0] + dx, 2), round(q[1] + dy, 2))

    placed = tuple(Placed(p.id, *move((p.x, p.y)), p.width, p.height, p.layer) for p in placed)
    routes = tuple(Route(r.src, r.dst, tuple(map(move, r.forward)), tuple(map(move, r.backward)),
                         (*move(r.label[:2]), *r.label[2:]) if r.label else ())
                   for r in routes)
    return Layout(placed, routes, round(max(xs, default=0.0) + dx, 2),
                  round(max(ys, default=0.0) + dy, 2))
