export { EXIT, parseArgs, run } from "./cli.js";
export { formatCite, formatDatum, table } from "./format.js";
export { loadSkillProfile, type SkillProfile } from "./profile.js";
