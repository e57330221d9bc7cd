// `/` commands: Claude Code's built-ins that work from swe-swe, known from
// the start, merged with what the agent announces (Claude's init line,
// an ACP agent's `available_commands_update`), sorted by name.

/** Claude Code's own commands (2.1.x), with what each does. */
export const CLAUDE_BUILTINS = [
  { name: 'clear', description: 'Start a new conversation; the agent forgets this one' },
  { name: 'compact', description: 'Summarise the conversation to free context (optional focus)' },
  { name: 'config', description: 'Show or change Claude Code settings' },
  { name: 'context', description: 'Show how much of the context window is in use' },
  { name: 'cost', description: 'Show what this conversation has cost so far' },
  { name: 'init', description: 'Write a CLAUDE.md that describes this project' },
  { name: 'review', description: 'Review a pull request' },
  { name: 'security-review', description: 'Review the pending changes for security problems' },
  { name: 'usage', description: 'Show plan usage and limits' },
];

/** `builtins` and `announced` ({name, description?}) by name, announced descriptions first, sorted. */
export function mergeCommands(builtins, announced) {
  const byName = new Map(builtins.map((c) => [c.name, c]));
  for (const c of announced) {
    const known = byName.get(c.name);
    byName.set(c.name, { name: c.name, description: c.description || known?.description || '' });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Commands matching `query`: names starting with it first, then containing it. */
export function filterCommands(commands, query) {
  const q = query.toLowerCase();
  const starts = commands.filter((c) => c.name.toLowerCase().startsWith(q));
  const contains = commands.filter((c) => !c.name.toLowerCase().startsWith(q) && c.name.toLowerCase().includes(q));
  return [...starts, ...contains];
}
