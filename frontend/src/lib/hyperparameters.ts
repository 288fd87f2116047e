/** The main hyperparameters of an iteration as form fields over the nested JSON the API takes:
 * `{"seed": 1, "reward": {"epochs": 2}, "ppo": {"steps": 50, ...}}`. */

export interface MainField {
  section: string | null; // null: top level (seed)
  option: string;
  label: string;
  step: string;
}

const COMMON: MainField[] = [
  { section: null, option: "seed", label: "Seed", step: "1" },
  { section: "reward", option: "epochs", label: "Reward model: epochs", step: "0.5" },
  { section: "reward", option: "lr", label: "Reward model: learning rate", step: "any" },
];

const BY_ALGORITHM: Record<string, MainField[]> = {
  ppo: [
    { section: "ppo", option: "steps", label: "PPO: iterations", step: "1" },
    { section: "ppo", option: "lr", label: "PPO: learning rate", step: "any" },
    { section: "ppo", option: "target_kl", label: "PPO: target KL (nats)", step: "any" },
    { section: "ppo", option: "init_kl_coef", label: "PPO: initial KL coefficient", step: "any" },
  ],
  dpo: [
    { section: "dpo", option: "epochs", label: "DPO: epochs", step: "0.5" },
    { section: "dpo", option: "lr", label: "DPO: learning rate", step: "any" },
    { section: "dpo", option: "beta", label: "DPO: beta", step: "any" },
  ],
  rloo: [
    { section: "rloo", option: "steps", label: "RLOO: steps", step: "1" },
    { section: "rloo", option: "lr", label: "RLOO: learning rate", step: "any" },
    { section: "rloo", option: "beta", label: "RLOO: KL coefficient", step: "any" },
  ],
};

export function mainFields(algorithm: string): MainField[] {
  return [...COMMON, ...(BY_ALGORITHM[algorithm] ?? [])];
}

type Hyperparameters = Record<string, unknown>;

export function readField(values: Hyperparameters, field: MainField): string {
  const holder = field.section ? (values[field.section] as Hyperparameters | undefined) : values;
  const value = holder?.[field.option];
  return typeof value === "number" || typeof value === "string" ? String(value) : "";
}

/** A copy of `values` with the field set (an empty text removes it, so the default applies). */
export function writeField(values: Hyperparameters, field: MainField, text: string): Hyperparameters {
  const next: Hyperparameters = { ...values };
  const number = Number(text);
  const value = text.trim() === "" || !Number.isFinite(number) ? undefined : number;
  if (!field.section) {
    if (value === undefined) delete next[field.option];
    else next[field.option] = value;
    return next;
  }
  const section = { ...((values[field.section] as Hyperparameters | undefined) ?? {}) };
  if (value === undefined) delete section[field.option];
  else section[field.option] = value;
  if (Object.keys(section).length) next[field.section] = section;
  else delete next[field.section];
  return next;
}
