/**
 * `hermes-admin completion bash|zsh`: a completion script built from the CLI's own command tree (so it never drifts
 * from the commands), completing commands, their subcommands and options, and profile names where a command takes one
 * (asked of the daemon with `hermes-admin list --names`; nothing when it is down). zsh loads the same function through
 * bashcompinit.
 */
import { InputInvalid } from "@twilight/core/errors";
import type { Command } from "commander";
import { action } from "./run.js";

export interface CompletionNode {
  name: string;
  aliases: string[];
  options: string[];
  /** Its first argument is a profile name (`<name>` or `[name]`). */
  takesProfile: boolean;
  subcommands: CompletionNode[];
}

export function commandTree(cmd: Command): CompletionNode[] {
  return cmd.commands
    .filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
    .map((c) => ({
      name: c.name(),
      aliases: c.aliases(),
      options: [...c.options.map((o) => o.long ?? o.short ?? "").filter(Boolean), "--json", "--help"],
      takesProfile: c.registeredArguments[0]?.name() === "name",
      subcommands: commandTree(c),
    }));
}

const words = (xs: string[]) => xs.join(" ");

/** A bash completion function for `prog` (pure: the tree in, the script out). */
export function bashCompletion(prog: string, tree: CompletionNode[]): string {
  const fn = `_${prog.replace(/[^A-Za-z0-9]/g, "_")}_complete`;
  const top = tree.flatMap((n) => [n.name, ...n.aliases]);
  const cases: string[] = [];
  for (const n of tree) {
    const names = [n.name, ...n.aliases].join("|");
    if (n.subcommands.length) {
      const subs = n.subcommands.map((s) => {
        const o = words(s.options);
        return `          ${s.name}) opts="${o}"; profile=${s.takesProfile ? 1 : 0} ;;`;
      });
      cases.push(
        `    ${names})`,
        `      if [ "$COMP_CWORD" -eq 2 ]; then COMPREPLY=( $(compgen -W "${words(n.subcommands.map((s) => s.name))}" -- "$cur") ); return 0; fi`,
        `      case "\${COMP_WORDS[2]}" in`,
        ...subs,
        `      esac ;;`,
      );
    } else cases.push(`    ${names}) opts="${words(n.options)}"; profile=${n.takesProfile ? 1 : 0} ;;`);
  }
  return [
    `# ${prog} completion for bash: eval "$(${prog} completion bash)" (or save it under /etc/bash_completion.d/${prog})`,
    `${fn}() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" opts="" profile=0`,
    `  COMPREPLY=()`,
    `  if [ "$COMP_CWORD" -le 1 ]; then COMPREPLY=( $(compgen -W "${words(top)} --json --help" -- "$cur") ); return 0; fi`,
    `  case "\${COMP_WORDS[1]}" in`,
    ...cases,
    `  esac`,
    `  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$opts" -- "$cur") ); return 0; fi`,
    `  if [ "$profile" -eq 1 ]; then COMPREPLY=( $(compgen -W "$(${prog} list --names 2>/dev/null)" -- "$cur") ); fi`,
    `  return 0`,
    `}`,
    `complete -F ${fn} ${prog}`,
    "",
  ].join("\n");
}

export function zshCompletion(prog: string, tree: CompletionNode[]): string {
  return [
    `# ${prog} completion for zsh: eval "$(${prog} completion zsh)" in ~/.zshrc (uses zsh's bash completion support)`,
    "autoload -U +X compinit && compinit",
    "autoload -U +X bashcompinit && bashcompinit",
    bashCompletion(prog, tree).split("\n").slice(1).join("\n"),
  ].join("\n");
}

export function completionCommand(program: Command): void {
  program
    .command("completion")
    .description("print a shell completion script (commands, options, profile names)")
    .argument("<shell>", "bash or zsh")
    .addHelpText(
      "after",
      '\nExamples:\n  eval "$(hermes-admin completion bash)"\n  hermes-admin completion bash > /etc/bash_completion.d/hermes-admin\n  echo \'eval "$(hermes-admin completion zsh)"\' >> ~/.zshrc',
    )
    .action(
      action(async (shell: string) => {
        const tree = commandTree(program);
        if (shell === "bash") process.stdout.write(bashCompletion(program.name(), tree));
        else if (shell === "zsh") process.stdout.write(zshCompletion(program.name(), tree));
        else throw new InputInvalid(`no completion for shell ${JSON.stringify(shell)}: use bash or zsh`);
      }),
    );
}
