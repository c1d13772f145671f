#include "cli/completion.h"

#include <CLI/CLI.hpp>
#include <memory>
#include <set>

namespace kumo::cli {

namespace {

struct Node {
  std::string path;  // "" for the root, "vm create" below it
  std::vector<std::string> subs;
  std::vector<std::string> flags;
};

void Walk(const CLI::App& app, const std::string& path, std::vector<Node>& out,
          std::set<std::string>& value_flags) {
  Node n;
  n.path = path;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;
    n.subs.push_back(sub->get_name());
    for (const auto& alias : sub->get_aliases()) n.subs.push_back(alias);
  }
  // Flags of this command and of its parents (they fall through).
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* opt : a->get_options([](const CLI::Option*) { return true; })) {
      for (const auto& l : opt->get_lnames()) {
        n.flags.push_back("--" + l);
        if (opt->get_type_size() != 0) value_flags.insert("--" + l);
      }
      for (const auto& s : opt->get_snames()) {
        n.flags.push_back("-" + s);
        if (opt->get_type_size() != 0) value_flags.insert("-" + s);
      }
    }
  }
  out.push_back(n);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    Walk(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out, value_flags);
    for (const auto& alias : sub->get_aliases()) {
      Walk(*sub, path.empty() ? alias : path + " " + alias, out, value_flags);
    }
  }
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

}  // namespace

std::string BashCompletion(const CLI::App& root) {
  std::vector<Node> nodes;
  std::set<std::string> value_flags;
  Walk(root, "", nodes, value_flags);
  std::string subs_case, flags_case;
  for (const auto& n : nodes) {
    if (!n.subs.empty()) subs_case += "    \"" + n.path + "\") echo \"" + Join(n.subs) + "\" ;;\n";
    flags_case += "    \"" + n.path + "\") echo \"" + Join(n.flags) + "\" ;;\n";
  }
  std::vector<std::string> vf(value_flags.begin(), value_flags.end());
  std::string value_pattern;
  for (const auto& f : vf) value_pattern += (value_pattern.empty() ? "" : "|") + f;
  return R"SH(# bash completion for kumo. Load it with:  source <(kumo completion bash)
_kumo_subs() {
  case "$1" in
)SH" + subs_case +
         R"SH(  esac
}
_kumo_flags() {
  case "$1" in
)SH" + flags_case +
         R"SH(  esac
}
# Names from the server, with the kubeconfig, context and tenant typed so far.
_kumo_names() {
  local args=() i w
  for ((i=1; i<${#COMP_WORDS[@]}-1; i++)); do
    w="${COMP_WORDS[i]}"
    case "$w" in
      --kubeconfig|--context|-n|--tenant|--namespace) args+=("$w" "${COMP_WORDS[i+1]}") ;;
    esac
  done
  "${COMP_WORDS[0]}" "$@" list -o name "${args[@]}" 2>/dev/null | sed 's|.*/||'
}
_kumo() {
  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
  local path="" i w subs
  for ((i=1; i<COMP_CWORD; i++)); do
    w="${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case "${COMP_WORDS[i-1]}" in )SH" +
         value_pattern + R"SH() continue ;; esac
    subs=" $(_kumo_subs "$path") "
    if [[ "$subs" == *" $w "* ]]; then path="${path:+$path }$w"; fi
  done
  case "$prev" in
    -o|--output) COMPREPLY=($(compgen -W "table wide json yaml name" -- "$cur")); return ;;
    --image) COMPREPLY=($(compgen -W "$(_kumo_names image)" -- "$cur")); return ;;
    --flavor) COMPREPLY=($(compgen -W "$(_kumo_names flavor)" -- "$cur")); return ;;
    --template) COMPREPLY=($(compgen -W "$(_kumo_names template)" -- "$cur")); return ;;
    --ip) COMPREPLY=($(compgen -W "$(_kumo_names ip)" -- "$cur")); return ;;
    --run-strategy) COMPREPLY=($(compgen -W "Always RerunOnFailure Once Manual Halted" -- "$cur")); return ;;
    -n|--tenant|--namespace) COMPREPLY=(); return ;;
    -f|--filename|--kubeconfig|--user-data|--ssh-key|--image-dir|-i|--identity)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_kumo_flags "$path")" -- "$cur")); return
  fi
  subs="$(_kumo_subs "$path")"
  if [[ -n "$subs" ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur")); return
  fi
  case "$path" in
    "vm create"|"ip reserve"|"image import"|"image build"|apply*) COMPREPLY=() ;;
    "completion") COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
    vm\ *) COMPREPLY=($(compgen -W "$(_kumo_names vm)" -- "$cur")) ;;
    image\ *|flavor\ *|node\ *|template\ *|ip\ *)
      COMPREPLY=($(compgen -W "$(_kumo_names "${path%% *}")" -- "$cur")) ;;
  esac
}
complete -o default -F _kumo kumo
)SH";
}

void AddCompletionCommand(CLI::App& app, Cli& cli) {
  auto shell = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
  cmd->add_option("shell", *shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  Examples(cmd,
           "  source <(kumo completion bash)                   # this shell\n"
           "  kumo completion bash > /etc/bash_completion.d/kumo\n"
           "  kumo completion zsh > \"${fpath[1]}/_kumo\"        # zsh, then restart it");
  const CLI::App* root = &app;
  OnRun(cmd, cli, [root, shell] {
    std::string bash = BashCompletion(*root);
    if (*shell == "zsh") {
      Print(
          "#compdef kumo\n# zsh completion for kumo (the bash script through bashcompinit).\n"
          "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n" +
          bash);
    } else {
      Print(bash);
    }
    return Status::Ok();
  });
}

}  // namespace kumo::cli
