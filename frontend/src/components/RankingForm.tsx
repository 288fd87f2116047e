import { useState, type DragEvent } from "react";
import type { TaskResponseView } from "../api/types";
import { moveTo, place, unplace, unranked, type RankingState } from "../lib/ranking";
import { ResponseCard } from "./ResponseCard";

const DRAG_TYPE = "text/plain";

function Chip({ id, label, onRemove }: { id: number; label: string; onRemove?: () => void }) {
  return (
    <span
      className="rank-chip"
      draggable
      data-testid={`chip-${label}`}
      onDragStart={(event) => {
        event.dataTransfer.setData(DRAG_TYPE, String(id));
        event.dataTransfer.effectAllowed = "move";
      }}
    >
      {label}
      {onRemove && (
        <button type="button" className="link small" aria-label={`Unrank response ${label}`} onClick={onRemove}>
          ✕
        </button>
      )}
    </span>
  );
}

/** K responses and a board of ranks: keys place them in order, or drag chips between ranks. */
export function RankingForm({
  responses,
  state,
  onChange,
}: {
  responses: TaskResponseView[];
  state: RankingState;
  onChange: (state: RankingState) => void;
}) {
  const [over, setOver] = useState<string | null>(null);
  const ids = responses.map((r) => r.id);
  const labelOf = (id: number) => String(ids.indexOf(id) + 1);
  const rankOf = (id: number) => state.tiers.findIndex((tier) => tier.includes(id));

  function dropHandlers(zone: string, apply: (id: number) => RankingState) {
    return {
      onDragOver: (event: DragEvent) => {
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        if (over !== zone) setOver(zone);
      },
      onDragLeave: () => setOver((current) => (current === zone ? null : current)),
      onDrop: (event: DragEvent) => {
        event.preventDefault();
        setOver(null);
        const id = Number(event.dataTransfer.getData(DRAG_TYPE));
        if (ids.includes(id)) onChange(apply(id));
      },
      "data-over": over === zone ? "true" : undefined,
    };
  }

  const pool = unranked(state, ids);
  return (
    <>
      <div className={`responses ${responses.length === 2 ? "two" : "many"}`}>
        {responses.map((response, i) => {
          const rank = rankOf(response.id);
          return (
            <ResponseCard
              key={response.id}
              label={String(i + 1)}
              text={response.text}
              selected={rank >= 0}
              testId={`response-${i + 1}`}
              extra={
                <span className="rank-badge" aria-live="polite">
                  {rank >= 0 ? `rank ${rank + 1}` : "not ranked"}
                </span>
              }
            />
          );
        })}
      </div>
      <section className="rank-board" aria-label="Ranking (best first)">
        <h2 className="h3">Ranking, best first {state.tieNext && <span className="tag">next one ties</span>}</h2>
        {state.tiers.map((tier, index) => (
          <div key={index}>
            <div className="rank-gap" {...dropHandlers(`gap-${index}`, (id) => moveTo(state, id, index, true))} aria-hidden="true" />
            <div className="rank-tier" data-testid={`tier-${index + 1}`} {...dropHandlers(`tier-${index}`, (id) => moveTo(state, id, index, false))}>
              <span className="rank-number">{index + 1}</span>
              {tier.map((id) => (
                <Chip key={id} id={id} label={labelOf(id)} onRemove={() => onChange(unplace(state, id))} />
              ))}
              {tier.length > 1 && <span className="tag">tie</span>}
            </div>
          </div>
        ))}
        <div
          className="rank-tier new"
          data-testid="tier-new"
          {...dropHandlers("new", (id) => moveTo(state, id, state.tiers.length, true))}
        >
          <span className="muted">Drop here for the next rank</span>
        </div>
        <div className="rank-pool" data-testid="pool" {...dropHandlers("pool", (id) => unplace(state, id))}>
          <span className="muted">Not ranked yet:</span>
          {pool.map((id) => (
            <span key={id} className="pool-item">
              <Chip id={id} label={labelOf(id)} />
              <button type="button" className="link small" onClick={() => onChange(place(state, id))}>
                place next
              </button>
            </span>
          ))}
          {pool.length === 0 && <span className="muted">none</span>}
        </div>
      </section>
    </>
  );
}
