-- The annotate loop's two hot requests as PostgreSQL functions: one round trip each.
--
-- `prefloop_next` and `prefloop_submit` serve the common case of `POST /next/` and
-- `POST /judgement/` under the same rules as `annotation/services/assignments.py` and
-- `annotation/services/judgements.py` (the reference: SQLite and every uncommon case run there).
-- Whatever they do not serve they hand back as `defer` (a short reason) BEFORE writing anything
-- that the Python services would not also write, and the caller then runs the Python services,
-- which answer as they always did (the 401s, 403s, 404s, 409s, 400s, gold pause rule,
-- demonstrations, criteria). The annotate tests run against these functions and against the
-- services alone (`hot_path_impl` in tests/annotation/conftest.py): where they disagree, a test fails.
--
-- Why: a cycle cost 11 round trips and two Django requests; a PL/pgSQL function runs its
-- statements on cached plans inside the server. Each statement in a VOLATILE function takes a fresh
-- READ COMMITTED snapshot, which the lease's room check relies on (see `_lease_if_room`).
--
-- Why so few statements: each one pays the executor's start-up and shut-down (relation locks, plan
-- nodes), which perf showed to be a sixth of PostgreSQL's time per cycle. So the token is joined
-- into the first query rather than looked up by a helper (a LANGUAGE sql helper was also parsed
-- and planned again on every call), and each request writes in a single statement. The common
-- `next` runs four statements, the common submit two (bench/README.md, "annotate loop").

DROP FUNCTION IF EXISTS prefloop_token_user(text);


CREATE OR REPLACE FUNCTION prefloop_next(p_token text, p_project bigint, p_gold_draw double precision)
RETURNS TABLE (
    defer text, assignment_id bigint, leased_at timestamptz, expires_at timestamptz, task_id bigint,
    prompt_id bigint, prompt_text text, prompt_messages jsonb, responses jsonb,
    task_type text, criteria jsonb, rationale_required boolean
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_user integer;
    v_project record;
    v_now timestamptz := statement_timestamp();
    v_kinds boolean[];
    v_gold boolean;
    v_excluded bigint[];
    v_task bigint;
    v_held bigint;
    v_lapsed boolean;
BEGIN
    -- The token's active user (DRF's TokenAuthentication's rule) and their membership, locked:
    -- that serializes one annotator's requests (a double click leases one task, not two).
    SELECT m.user_id, m.paused, p.id, p.overlap, p.lease_seconds, p.gold_rate, p.task_order, p.task_type,
           p.criteria, p.rationale_required
    INTO v_project
    FROM authtoken_token tk
    JOIN auth_user u ON u.id = tk.user_id AND u.is_active
    JOIN annotation_membership m ON m.user_id = u.id AND m.project_id = p_project
    JOIN annotation_project p ON p.id = m.project_id
    WHERE tk.key = p_token
    FOR UPDATE OF m;
    IF NOT FOUND OR v_project.paused THEN
        -- A bad token (401), not a member (a superuser, or a 404) or paused (a 403 with the
        -- reason): Python answers.
        defer := 'member';
        RETURN NEXT;
        RETURN;
    END IF;
    v_user := v_project.user_id;

    -- The annotator's live lease, if any, and whether any lapsed (rare: then they go back to the
    -- pool, not to this annotator again). One read in the common case, where there is neither.
    SELECT bool_or(a.expires_at <= v_now),
           (array_agg(a.id ORDER BY a.leased_at DESC) FILTER (WHERE a.expires_at > v_now))[1]
    INTO v_lapsed, v_held
    FROM annotation_assignment a
    WHERE a.project_id = p_project AND a.annotator_id = v_user AND a.state = 'active';
    IF v_lapsed THEN
        UPDATE annotation_assignment SET state = 'expired', finished_at = v_now
        WHERE project_id = p_project AND annotator_id = v_user AND state = 'active' AND expires_at <= v_now;
    END IF;

    IF v_held IS NULL THEN
        IF v_project.gold_rate > 0 THEN
            v_gold := p_gold_draw < v_project.gold_rate;
            v_kinds := ARRAY[v_gold, NOT v_gold];
        ELSE
            v_kinds := ARRAY[false];
        END IF;
        FOREACH v_gold IN ARRAY v_kinds LOOP
            v_excluded := '{}';
            LOOP
                v_task := NULL;
                IF v_gold THEN
                    -- Gold tasks have no overlap limit: every annotator judges each one once.
                    SELECT t.id INTO v_task FROM annotation_comparisontask t
                    WHERE t.project_id = p_project AND NOT t.is_complete AND t.purpose = 'gold'
                      AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.task_id = t.id AND a.annotator_id = v_user)
                      AND t.id <> ALL (v_excluded)
                    ORDER BY t.priority DESC, t.random_key ASC, t.id ASC
                    LIMIT 1 FOR UPDATE OF t SKIP LOCKED;
                ELSIF v_project.task_order = 'uncertainty' THEN
                    -- The same query as below but for its ORDER BY: one statement per order keeps
                    -- each plan on its index (an ORDER BY CASE would sort every open task).
                    SELECT t.id INTO v_task FROM annotation_comparisontask t
                    WHERE t.project_id = p_project AND NOT t.is_complete AND t.purpose IN ('training', 'evaluation')
                      AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.task_id = t.id AND a.annotator_id = v_user)
                      AND t.judgement_count + (SELECT count(*) FROM annotation_assignment l
                          WHERE l.task_id = t.id AND l.state = 'active' AND l.expires_at > v_now) < v_project.overlap
                      AND t.id <> ALL (v_excluded)
                    ORDER BY t.judgement_count DESC, t.priority DESC, t.uncertainty DESC NULLS LAST, t.id ASC
                    LIMIT 1 FOR UPDATE OF t SKIP LOCKED;
                ELSE
                    -- Walks `task_open_random_idx` in order and stops at the first task with room.
                    SELECT t.id INTO v_task FROM annotation_comparisontask t
                    WHERE t.project_id = p_project AND NOT t.is_complete AND t.purpose IN ('training', 'evaluation')
                      AND NOT EXISTS (SELECT 1 FROM annotation_assignment a WHERE a.task_id = t.id AND a.annotator_id = v_user)
                      AND t.judgement_count + (SELECT count(*) FROM annotation_assignment l
                          WHERE l.task_id = t.id AND l.state = 'active' AND l.expires_at > v_now) < v_project.overlap
                      AND t.id <> ALL (v_excluded)
                    ORDER BY t.judgement_count DESC, t.priority DESC, t.random_key ASC, t.id ASC
                    LIMIT 1 FOR UPDATE OF t SKIP LOCKED;
                END IF;
                EXIT WHEN v_task IS NULL;  -- none of this kind left: the next kind, or 204

                -- One statement (a fresh snapshot: it sees every lease committed before our lock on
                -- the task was granted, which the candidate's snapshot may not) that expires the
                -- task's stale leases, skipping rows a submit holds (no deadlock), leases the task
                -- if it still has room, in a shuffled display order, and returns the payload. The
                -- payload's responses are built as in the held lease's query below, on purpose twice:
                -- the new row is visible only inside this statement, and a shared SQL function would
                -- be planned again on every call (as the token helper was). Keep the two alike.
                RETURN QUERY
                WITH stale AS (
                    UPDATE annotation_assignment SET state = 'expired', finished_at = v_now
                    WHERE id IN (SELECT s.id FROM annotation_assignment s
                                 WHERE s.task_id = v_task AND s.state = 'active' AND s.expires_at <= v_now
                                 FOR UPDATE SKIP LOCKED)
                ), lease AS (
                    INSERT INTO annotation_assignment
                        (project_id, task_id, annotator_id, state, leased_at, expires_at, display_order, skip_reason)
                    SELECT p_project, v_task, v_user, 'active', v_now,
                           v_now + make_interval(secs => v_project.lease_seconds),
                           coalesce((SELECT to_jsonb(array_agg(tr.response_id ORDER BY random()))
                                     FROM annotation_taskresponse tr WHERE tr.task_id = v_task), '[]'::jsonb), ''
                    WHERE v_gold OR (SELECT c.judgement_count FROM annotation_comparisontask c WHERE c.id = v_task)
                        + (SELECT count(*) FROM annotation_assignment l
                           WHERE l.task_id = v_task AND l.state = 'active' AND l.expires_at > v_now) < v_project.overlap
                    RETURNING id, leased_at, expires_at, display_order
                )
                SELECT NULL::text, a.id, a.leased_at, a.expires_at, v_task, pr.id, pr.text, pr.messages,
                       coalesce((SELECT jsonb_agg(jsonb_build_object('id', r.id, 'text', r.text) ORDER BY shown.place)
                                 FROM jsonb_array_elements_text(a.display_order) WITH ORDINALITY AS shown(response_id, place)
                                 JOIN annotation_response r ON r.id = shown.response_id::bigint), '[]'::jsonb),
                       v_project.task_type::text, v_project.criteria, v_project.rationale_required
                FROM lease a
                JOIN annotation_comparisontask t ON t.id = v_task
                JOIN annotation_prompt pr ON pr.id = t.prompt_id;
                IF FOUND THEN RETURN; END IF;
                v_excluded := v_excluded || v_task;  -- filled meanwhile: the next candidate
            END LOOP;
        END LOOP;
        RETURN NEXT;  -- nothing left for this annotator: 204 (a row of NULLs)
        RETURN;
    END IF;

    -- The lease held already: the same assignment again.
    RETURN QUERY
    SELECT NULL::text, a.id, a.leased_at, a.expires_at, a.task_id, pr.id, pr.text, pr.messages,
           coalesce((SELECT jsonb_agg(jsonb_build_object('id', r.id, 'text', r.text) ORDER BY shown.place)
                     FROM jsonb_array_elements_text(a.display_order) WITH ORDINALITY AS shown(response_id, place)
                     JOIN annotation_response r ON r.id = shown.response_id::bigint), '[]'::jsonb),
           v_project.task_type::text, v_project.criteria, v_project.rationale_required
    FROM annotation_assignment a
    JOIN annotation_comparisontask t ON t.id = a.task_id
    JOIN annotation_prompt pr ON pr.id = t.prompt_id
    WHERE a.id = v_held;
END;
$$;


-- The verdict arrives checked for shape by Python (`annotation.hot_path.sql_functions.submit_params`):
-- p_ranking_ids are the ranking's response ids, each once; p_first the single id of the top tier
-- or NULL; p_pair_outcome as `pair_outcome` codes it. Here it is checked against the assignment.
-- Returns the judgement's row (new: created; or the first one again on a retry).
CREATE OR REPLACE FUNCTION prefloop_submit(
    p_token text, p_assignment bigint, p_client_id text, p_ranking jsonb, p_ranking_ids bigint[],
    p_tie boolean, p_first bigint, p_pair_outcome smallint, p_both_bad boolean, p_strength smallint,
    p_rationale text, p_rationale_blank boolean, p_flags jsonb, p_time_spent_ms integer
)
RETURNS TABLE (
    defer text, created boolean, id bigint, assignment_id bigint, replaces_id bigint, task_id bigint,
    annotator_id integer, ranking jsonb, both_bad boolean, strength smallint, criteria jsonb, rationale text,
    flags jsonb, time_spent_ms integer, client_id text, demonstration_id bigint, pair_outcome smallint,
    picked_first_shown boolean, created_at timestamptz
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := statement_timestamp();
    v_row record;
    v_picked boolean;
BEGIN
    -- Read without a lock: the write below re-checks the lease under its row lock, and anything
    -- that changed meanwhile (a retry racing its first attempt, a skip) is deferred to Python.
    SELECT a.id, a.annotator_id, a.project_id, a.task_id, a.state, a.expires_at, a.display_order, t.purpose, p.overlap, p.task_type, p.rationale_required, p.gold_pause_threshold,
           coalesce(m.paused, false) AS paused,
           j.id AS existing_id, j.assignment_id AS existing_assignment, j.replaces_id AS existing_replaces
    INTO v_row
    FROM authtoken_token tk
    JOIN auth_user u ON u.id = tk.user_id AND u.is_active
    JOIN annotation_assignment a ON a.annotator_id = u.id  -- someone else's assignment: Python's 403
    JOIN annotation_comparisontask t ON t.id = a.task_id
    JOIN annotation_project p ON p.id = a.project_id
    LEFT JOIN annotation_membership m ON m.project_id = a.project_id AND m.user_id = u.id  -- none: a superuser
    LEFT JOIN annotation_judgement j ON j.client_id = p_client_id
    WHERE tk.key = p_token AND a.id = p_assignment;
    IF NOT FOUND THEN
        defer := 'assignment';  -- 401, 404 or 403: Python tells which
        RETURN NEXT;
        RETURN;
    END IF;

    IF v_row.existing_assignment = p_assignment AND v_row.existing_replaces IS NULL THEN
        -- A retry: the first judgement again, with 200, and nothing written.
        RETURN QUERY SELECT NULL::text, false, j.id, j.assignment_id, j.replaces_id, j.task_id, j.annotator_id,
            j.ranking, j.both_bad, j.strength, j.criteria, j.rationale, j.flags, j.time_spent_ms,
            j.client_id::text, j.demonstration_id, j.pair_outcome, j.picked_first_shown, j.created_at
            FROM annotation_judgement j WHERE j.id = v_row.existing_id;
        RETURN;
    END IF;

    IF v_row.paused                                              -- paused, even on an older lease: 403
       OR v_row.existing_id IS NOT NULL                          -- another judgement's client_id: 409
       OR v_row.state <> 'active' OR v_row.expires_at <= v_now   -- judged, skipped or lapsed: 409
       OR v_row.task_type = 'demonstration' OR jsonb_array_length(v_row.display_order) = 0
       OR p_ranking_ids IS NULL                                  -- a ranking Python must explain: 400
       -- The ids are distinct (Python checked): same count and contained means the same set.
       OR cardinality(p_ranking_ids) <> jsonb_array_length(v_row.display_order)
       OR NOT v_row.display_order @> to_jsonb(p_ranking_ids)
       OR (p_strength IS NOT NULL AND (v_row.task_type <> 'pairwise' OR p_tie))
       OR (v_row.rationale_required AND p_rationale_blank)
       OR (v_row.purpose = 'gold' AND v_row.gold_pause_threshold > 0)  -- the gold pause rule
    THEN
        defer := 'verdict';
        RETURN NEXT;
        RETURN;
    END IF;

    v_picked := CASE WHEN p_first IS NULL THEN NULL ELSE p_first = (v_row.display_order ->> 0)::bigint END;
    -- Close the lease, count the judgement on its task and store it: one statement. The lease is
    -- closed only if it is still live under its row lock; if not (a concurrent submit or skip won),
    -- nothing is written and Python answers (the retry's 200, or the 409).
    WITH closed AS (
        UPDATE annotation_assignment SET state = 'submitted', finished_at = v_now
        WHERE annotation_assignment.id = p_assignment AND state = 'active' AND annotation_assignment.expires_at > v_now
        RETURNING annotation_assignment.task_id
    ), counted AS (
        -- judgement_count on the right is the value before this update; gold tasks never complete.
        UPDATE annotation_comparisontask
        SET judgement_count = judgement_count + 1,
            is_complete = (judgement_count + 1 >= v_row.overlap AND purpose <> 'gold')
        WHERE annotation_comparisontask.id = (SELECT c.task_id FROM closed c)
    )
    INSERT INTO annotation_judgement AS j
        (assignment_id, replaces_id, project_id, task_id, annotator_id, ranking, both_bad, strength, criteria,
         rationale, flags, time_spent_ms, client_id, demonstration_id, is_ai, pair_outcome, picked_first_shown,
         created_at)
    SELECT p_assignment, NULL, v_row.project_id, c.task_id, v_row.annotator_id, p_ranking, p_both_bad, p_strength,
           '{}'::jsonb, p_rationale, p_flags, p_time_spent_ms, p_client_id, NULL, false, p_pair_outcome, v_picked,
           v_now
    FROM closed c
    RETURNING j.id INTO id;
    IF id IS NULL THEN
        defer := 'raced';
        RETURN NEXT;
        RETURN;
    END IF;
    created := true;
    assignment_id := p_assignment;
    task_id := v_row.task_id;
    annotator_id := v_row.annotator_id;
    ranking := p_ranking;
    both_bad := p_both_bad;
    strength := p_strength;
    criteria := '{}'::jsonb;
    rationale := p_rationale;
    flags := p_flags;
    time_spent_ms := p_time_spent_ms;
    client_id := p_client_id;
    pair_outcome := p_pair_outcome;
    picked_first_shown := v_picked;
    created_at := v_now;
    RETURN NEXT;
END;
$$;
