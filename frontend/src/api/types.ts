/** Shapes of the REST API (see the OpenAPI schema at /api/schema/). */

export type TaskType = "pairwise" | "ranking" | "demonstration";
export type Role = "annotator" | "manager" | "engineer";

export interface Me {
  id: number;
  username: string;
  is_superuser?: boolean;
  is_staff?: boolean;
}

export interface Project {
  id: number;
  name: string;
  task_type: TaskType;
  responses_per_task: number;
  overlap: number;
  guidelines: string;
  criteria: string[];
  rationale_required?: boolean;
  lease_seconds?: number;
  gold_rate?: number;
  gold_min_items?: number;
  gold_pause_threshold?: number;
  consensus_method?: string;
  retrain_threshold?: number;
  algorithm?: string;
  hyperparameters?: Record<string, unknown>;
  role?: Role | "admin" | null;
  [key: string]: unknown;
}

/** One row of GET /api/projects/{id}/generations/: a policy's responses generated in the background. */
export interface ResponseGeneration {
  id: number;
  policy: string;
  status: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  prompts_done: number;
  prompts_total: number;
  samples_per_prompt: number;
  tasks_created: number;
  error: string;
  created_at: string;
  started_at: string | null;
  first_tasks_at: string | null;
  finished_at: string | null;
}

/** One row of GET /api/me/workload/: a project of mine and what is left in it for me. */
export interface WorkloadRow {
  project: { id: number; name: string; task_type: TaskType; guidelines?: string };
  role: Role | "admin";
  tasks_left: number;
  judged_by_me: number;
  judged_today: number;
  paused: boolean;
  paused_reason: string;
}

export interface ChatTurn {
  role: string;
  content: string;
}

export interface TaskResponseView {
  id: number;
  text: string;
}

export interface NextTask {
  assignment: { id: number; expires_at: string; leased_at?: string };
  task: {
    id: number;
    prompt: string | { text?: string; messages?: ChatTurn[] | null } | ChatTurn[];
    responses: TaskResponseView[];
    criteria?: string[];
    [key: string]: unknown;
  };
}

export type Ranking = number[][];

export interface JudgementBody {
  ranking: Ranking;
  both_bad?: boolean;
  strength?: number | null;
  criteria?: Record<string, Ranking>;
  rationale?: string;
  flags?: string[];
  time_spent_ms?: number;
  client_id: string;
  text?: string;
}

export interface Judgement {
  id: number;
  assignment?: number;
  client_id: string;
  ranking: Ranking;
  [key: string]: unknown;
}

export interface ImportReport {
  created: number;
  skipped_duplicates: number;
  errors: { line: number; message: string }[];
}

export interface AnnotatorAgreement {
  username: string;
  n: number;
  median_ms: number | null;
  agreement_with_majority: number | null;
  gold_accuracy: number | null;
  left_rate: number | null;
  left_rate_p?: number | null;
  tie_rate: number | null;
  both_bad_rate?: number | null;
  skip_rate?: number | null;
  flags_raised?: number | null;
  n_shared?: number | null;
  reliability?: number | null;
  flagged_reasons?: string[];
  paused?: boolean;
  paused_reason?: string;
}

export interface Agreement {
  krippendorff_alpha: number | null;
  percent_agreement: number | null;
  fleiss_kappa?: number | null;
  n_items: number;
  n_judgements: number;
  by_criterion?: Record<string, { krippendorff_alpha: number | null; percent_agreement: number | null }>;
  by_day: { day: string; krippendorff_alpha: number | null; percent_agreement: number | null; n_items?: number }[];
  annotators: AnnotatorAgreement[];
}

export interface Dashboard {
  throughput_hourly: { t: string; n: number }[];
  throughput_daily: { t: string; n: number }[];
  tasks_total: number;
  tasks_complete: number;
  tasks_in_progress: number;
  judgements_total: number;
  judgements_needed: number;
  active_leases: number;
  skips: number;
  strength_distribution: { strength: number; n: number }[];
  outcome_distribution: { outcome: string; n: number }[];
  flags: { flag: string; n: number }[];
}

export interface TrainingJob {
  id?: number;
  step: string;
  order?: number;
  status: string;
  progress: number;
  started_at?: string | null;
  finished_at?: string | null;
  heartbeat_at?: string | null;
  log_tail?: string;
  metrics?: Record<string, unknown>;
  metrics_history?: Record<string, number>[];
  artifact_path?: string;
  error?: string;
}

export interface Iteration {
  id: number;
  project?: number;
  number?: number;
  status: string;
  algorithm?: string;
  hyperparameters?: Record<string, unknown>;
  trigger?: string;
  created_at?: string;
  started_at?: string | null;
  finished_at?: string | null;
  error?: string;
  overoptimization_flag?: boolean;
  overoptimization_reason?: string;
  summary?: Record<string, unknown>;
  jobs?: TrainingJob[];
  steps?: TrainingJob[];
  progress?: number;
  policy_before?: string | null;
  policy_after?: string | null;
  dataset_hash?: string;
  evaluation?: IterationEvaluation;
  [key: string]: unknown;
}

export interface WinRate {
  opponent: string;
  win_rate: number | null;
  ci_low: number | null;
  ci_high: number | null;
  n_judgements: number;
  n_tasks?: number;
}

export interface IterationEvaluation {
  win_rates: WinRate[];
  reward_model_agreement: { n: number; agreement: number | null; ci_low: number | null; ci_high: number | null } | null;
  overoptimization: { flagged: boolean; reason: string } | null;
}

export interface LeaderboardRow {
  policy: string;
  policy_id: number;
  is_reference: boolean;
  iteration: number | null;
  score: number;
  ci_low: number;
  ci_high: number;
  n_judgements: number;
}
