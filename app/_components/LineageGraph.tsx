/** A version as the lineage graph needs it. */
export type LineageNode = { id: string; version: number; parentId: string | null; aliases: string[] };

const COL = 150;
const ROW = 64;
const W = 112;
const H = 40;
const PAD = 20;

/**
 * Model lineage drawn as SVG: one node per version, an edge from each parent to its child, columns by
 * depth (distance from a root) and rows in version order within a column. A parent that lives in
 * another model is drawn as a dashed "outside" node.
 */
export function LineageGraph({ nodes, selectedId, onSelect }: { nodes: LineageNode[]; selectedId?: string | null; onSelect?: (id: string) => void }) {
  if (nodes.length === 0) return <p className="empty">No versions yet.</p>;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const outside = [...new Set(nodes.map((n) => n.parentId).filter((p): p is string => !!p && !byId.has(p)))];
  const depth = new Map<string, number>();
  outside.forEach((id) => depth.set(id, 0));
  const depthOf = (id: string, seen = new Set<string>()): number => {
    if (depth.has(id)) return depth.get(id)!;
    const node = byId.get(id);
    // A cycle cannot happen (parents are created first), but guard anyway.
    const d = node?.parentId && !seen.has(id) ? depthOf(node.parentId, seen.add(id)) + 1 : 0;
    depth.set(id, d);
    return d;
  };
  nodes.forEach((n) => depthOf(n.id));
  const columns = new Map<number, string[]>();
  for (const id of [...outside, ...[...nodes].sort((a, b) => a.version - b.version).map((n) => n.id)]) {
    const d = depth.get(id)!;
    columns.set(d, [...(columns.get(d) ?? []), id]);
  }
  const pos = new Map<string, { x: number; y: number }>();
  for (const [d, ids] of columns) ids.forEach((id, row) => pos.set(id, { x: PAD + d * COL, y: PAD + row * ROW }));
  const width = PAD * 2 + (Math.max(...columns.keys()) * COL + W);
  const height = PAD * 2 + (Math.max(...[...columns.values()].map((c) => c.length)) - 1) * ROW + H + 14;

  return (
    <div className="lineage">
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="Lineage of model versions" data-testid="lineage">
        <defs>
          <marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#a8a29e" />
          </marker>
        </defs>
        {nodes
          .filter((n) => n.parentId)
          .map((n) => {
            const from = pos.get(n.parentId!)!;
            const to = pos.get(n.id)!;
            const x1 = from.x + W;
            const y1 = from.y + H / 2;
            const x2 = to.x - 2;
            const y2 = to.y + H / 2;
            const mid = (x1 + x2) / 2;
            return <path key={`e-${n.id}`} className="edge" d={`M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`} markerEnd="url(#lineage-arrow)" />;
          })}
        {outside.map((id) => {
          const p = pos.get(id)!;
          return (
            <g key={id} className="node outside" transform={`translate(${p.x},${p.y})`}>
              <rect width={W} height={H} rx={6} strokeDasharray="4 3" />
              <text x={W / 2} y={H / 2 + 4} textAnchor="middle">
                other model
              </text>
            </g>
          );
        })}
        {nodes.map((n) => {
          const p = pos.get(n.id)!;
          return (
            <g
              key={n.id}
              className={`node${n.aliases.length ? " aliased" : ""}${n.id === selectedId ? " selected" : ""}`}
              transform={`translate(${p.x},${p.y})`}
              onClick={onSelect ? () => onSelect(n.id) : undefined}
              style={onSelect ? { cursor: "pointer" } : undefined}
            >
              <title>{`v${n.version}${n.aliases.length ? ` (${n.aliases.join(", ")})` : ""}`}</title>
              <rect width={W} height={H} rx={6} />
              <text x={10} y={17} fontWeight={600}>
                v{n.version}
              </text>
              <text x={10} y={32} className="mono-small">
                {n.id.slice(0, 10)}
              </text>
              {n.aliases.length ? (
                <text x={0} y={H + 13} className="alias">
                  {n.aliases.join(", ")}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
