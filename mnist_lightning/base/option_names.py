"""Misspelled option names, refused in one line before Hydra starts: `trainer.max_epoch=1` -> "did you mean
trainer.max_epochs?". Hydra's own answer is three lines that advise `+trainer.max_epoch=1`, which then fails
deep inside the Trainer; `+trainer.<name>` is checked against the Trainer's arguments here for that reason.
"""

import ast
import difflib
import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from mnist_lightning.base.checkpoint_path import EXPORTED
from mnist_lightning.base.errors import missing_choice_message, project_groups, user_config_dirs
from mnist_lightning.base.locations import CONF_DIR
from mnist_lightning.base.value_ranges import RANGE_ERRORS

FLAGS_WITH_A_VALUE = ("--config-dir", "-cd", "--cfg", "-c", "--package", "-p", "--info", "--experimental-rerun",
                      "--shell-completion", "-sc")  # fmt: skip
TAKE_THE_NEXT_WORD = ("--config-dir", "-cd", "--experimental-rerun", "--shell-completion", "-sc")
# Flags whose value may be the next word: --cfg job, --info defaults, -p model, --config-name train, -cp ../conf
VALUE_MAY_FOLLOW = ("--cfg", "-c", "--info", "-i", "--package", "-p", "--config-name", "-cn", "--config-path", "-cp")


def command_line_overrides(argv: list[str]) -> list[str] | None:
    """The `key=value`, `+key=value` and `~key` words of `argv`; None when it names another config
    (--config-name / --config-path), which this check does not compose."""
    if any(arg.startswith(("--config-name", "-cn", "--config-path", "-cp")) for arg in argv):
        return None
    words, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in FLAGS_WITH_A_VALUE:
            skip = arg in TAKE_THE_NEXT_WORD  # the others take an optional word
        elif not arg.startswith("-") and ("=" in arg or arg.startswith("~")):
            words.append(arg)
    return words


def is_flag(word: str | None, flags: tuple[str, ...]) -> bool:
    """Whether `word` is one of `flags`, or a long one shortened (Hydra's argparse takes --cf for --cfg)."""
    if word is None:
        return False
    return word in flags or (len(word) > 3 and any(f.startswith("--") and f.startswith(word) for f in flags))


# Every flag of Hydra's command line (hydra/_internal/utils.py: get_args_parser); argparse also takes a long one
# shortened (--cf for --cfg).
HYDRA_FLAGS = ("--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--resolve", "--package", "-p", "--run",
               "-r", "--multirun", "-m", "--shell-completion", "-sc", "--config-path", "-cp", "--config-name", "-cn",
               "--config-dir", "-cd", "--experimental-rerun", "--info", "-i")  # fmt: skip


def unknown_flag(argv: list[str]) -> tuple[str, str] | None:
    """The first word that looks like a flag (`--epochs=1`, `--fast_dev_run`) and is not one of Hydra's, which
    Hydra's argparse refuses with its eight-line usage, as typed and with its value ('' for none; in `--epochs 1`,
    the next word). `--` (the end of the flags, which argparse takes) is not one."""
    previous = None
    for i, arg in enumerate(argv):
        after_flag = is_flag(previous, TAKE_THE_NEXT_WORD + VALUE_MAY_FOLLOW)
        if arg.startswith("-") and arg != "--" and not after_flag and not is_flag(arg.split("=")[0], HYDRA_FLAGS):
            value = arg.partition("=")[2]
            following = argv[i + 1] if i + 1 < len(argv) and not value else ""
            if following and "=" not in following and not following.startswith("-"):
                value = following
            return arg, value
        previous = arg
    return None


def unknown_flag_message(config_name: str, flag: str, value: str) -> str:
    """How the option a flag was meant to set is given: key=value, with the option of that name or a close one."""
    name = flag.lstrip("-").partition("=")[0]
    keys = composed_keys(config_name, {}, [])
    if name in keys:
        return f"{flag} is not a flag: options are key=value, as {name}={value or '...'}"
    close = suggestion(name, keys).removeprefix(": did you mean ").removesuffix("?")
    if not close:
        return f"{flag} is not a flag: options are key=value (--help lists them)"
    given = [f"{option}={value}" if value else option for option in close.split(" or ")]
    return f"{flag} is not a flag: options are key=value; did you mean {' or '.join(given)}?"


def stray_word(argv: list[str]) -> str | None:
    """The first word that is not a flag, a flag's value, key=value or ~key: a checkpoint or a photo pasted bare,
    which Hydra would refuse with a parser error naming the grammar."""
    previous = None
    for arg in argv:
        after_flag = is_flag(previous, TAKE_THE_NEXT_WORD + VALUE_MAY_FOLLOW)
        if not after_flag and not arg.startswith(("-", "~", "+")) and "=" not in arg:
            return arg
        previous = arg
    return None


def stray_word_message(config_name: str, word: str) -> str:
    """How `word` should have been given to the command of `config_name`."""
    options = set(OmegaConf.load(CONF_DIR / f"{config_name}.yaml").keys())  # `in` would skip a ??? value
    not_option = f"{word!r} is not an option (key=value)"
    if "ckpt_path" in options and word.endswith(EXPORTED) and not (config_name == "serve" and word.endswith(".onnx")):
        return f"{not_option}, and an exported network: give the .ckpt it was exported from as ckpt_path=..."
    if "ckpt_path" in options and word.endswith((".ckpt", *EXPORTED)):
        return f"{not_option}: give the checkpoint as ckpt_path={word}"
    if "inputs" in options:
        return f"{not_option}: give photos as inputs={word}, the checkpoint as ckpt_path=..."
    return f"{not_option}: --help lists the options"


def all_keys(cfg: DictConfig, prefix: str = "") -> set[str]:
    """Every dotted key of `cfg`, inner nodes included (`trainer`, `trainer.max_epochs`, ...)."""
    keys = set()
    for key, value in cfg.items_ex(resolve=False) if isinstance(cfg, DictConfig) else []:
        name = f"{prefix}{key}"
        keys.add(name)
        if isinstance(value, DictConfig) and not value._is_none():  # Hydra's own config has typed None nodes
            keys |= all_keys(value, f"{name}.")
    return keys


# The configs composed for this command's option-name check, by (config name, search path, group overrides):
# check_override_types needs the same one inside the run, and a compose takes about half a second.
COMPOSED: dict[tuple[str, tuple[str, ...], tuple[str, ...]], DictConfig] = {}


def user_searchpath(argv: list[str]) -> list[str]:
    return [f"file://{Path(d).resolve()}" for d in user_config_dirs(argv)]


def shipped_config(config_name: str, groups: list[str]) -> DictConfig:
    """`config_name` composed with only these group overrides, in the running Hydra's context (its search path):
    the one the option-name check composed for this command line, or a new one."""
    cached = COMPOSED.get((config_name, tuple(user_searchpath(sys.argv)), tuple(groups)))
    return cached if cached is not None else compose(config_name, overrides=groups)


def composed_keys(config_name: str, group_choices: dict[str, list[str]], searchpath: list[str]) -> set[str]:
    """The keys of `config_name` composed with the first choice of every group, and again with each other
    choice of a swept group (`model=fast,reference` may add keys only one of them has). A group key may carry
    its `+` (a group added from a --config-dir folder)."""
    first = {group: options[0] for group, options in group_choices.items()}
    variants = [first] + [first | {group: option} for group, options in group_choices.items() for option in options[1:]]
    extra = [f"hydra.searchpath=[{','.join(searchpath)}]"] if searchpath else []
    keys: set[str] = set()
    for choices in variants:
        groups = [f"{g}={o}" for g, o in choices.items()]
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name, overrides=[*extra, *groups], return_hydra_config=True)
        COMPOSED[(config_name, tuple(searchpath), tuple(groups))] = cfg
        keys |= {k for k in all_keys(cfg) if not k.startswith("hydra")}
        keys |= {f"hydra.{k}" for k in all_keys(cfg.hydra) if k.startswith(CHECKED_HYDRA)}
    return keys


# The settings of Hydra's a user sets most, and misspells: the search's and the launcher's (`hydra.sweeper.n_trial=3`
# got Hydra's six lines). Their dict-valued nodes take keys of the user's own and are not checked.
CHECKED_HYDRA = ("sweeper", "launcher")
FREE_FORM = ("hydra.sweeper.params.", "hydra.launcher.additional_parameters.", "hydra.launcher.setup.")


def unchecked_hydra_setting(key: str) -> bool:
    hydra_key = key == "hydra" or key.startswith(("hydra.", "hydra/"))
    return hydra_key and (
        not key.startswith(tuple(f"hydra.{node}." for node in CHECKED_HYDRA)) or key.startswith(FREE_FORM)
    )


# The Trainer arguments train and evaluate pass themselves (run/build.py, evaluate.py), over the config's: a
# +trainer.logger=false would be ignored, so no answer advises it (logger=none is the config's choice).
SET_BY_THE_COMMANDS = {"callbacks", "logger", "plugins", "precision", "enable_checkpointing"}


@functools.cache
def trainer_arguments() -> set[str]:
    """The arguments of Lightning's Trainer, read from its source file: importing Lightning (and torch) to inspect
    the signature would take 5-8 s of the one second the early check has."""
    spec = importlib.util.find_spec("pytorch_lightning")  # finds the package without importing it
    source = Path(spec.origin).parent / "trainer" / "trainer.py"
    tree = ast.parse(source.read_text())
    trainer = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Trainer")
    init = next(node for node in trainer.body if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    arguments = init.args
    return {a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]} - {"self"}


def suggestion(name: str, candidates: set[str]) -> str:
    public = sorted(c for c in candidates if not any(part.startswith("_") for part in c.split(".")))  # not _target_
    close = difflib.get_close_matches(name, public, n=2, cutoff=0.75)
    if not close and "." not in name:  # max_epochs, lr: the name without its node, matched on the last part
        last_parts: dict[str, list[str]] = {}
        for candidate in public:
            last_parts.setdefault(candidate.rsplit(".", 1)[-1], []).append(candidate)
        parts = difflib.get_close_matches(name, list(last_parts), n=2, cutoff=0.75)
        close = [full for part in parts for full in last_parts[part]][:3]  # dirpath: both checkpoints' dirpath
    return f": did you mean {' or '.join(close)}?" if close else ""


def has_key(tree: object, dotted: str) -> bool:
    """Whether `dotted` (model.net.dropout) is a key of the plain, unresolved `tree` (a value such as ${model.dropout}
    is not resolved: a group's file alone cannot)."""
    for part in dotted.split("."):
        if isinstance(tree, list) and part.isdigit() and int(part) < len(tree):  # block1.0: a list's item
            tree = tree[int(part)]
        elif isinstance(tree, dict) and part in tree:
            tree = tree[part]
        else:
            return False
    return True


def option_of_another_choice(key: str, groups: set[str], config_dirs: list[Path]) -> str | None:
    """`data.augment.degrees=5` where the run chose data/augment=none: the option belongs to another choice of the
    group (affine), which "did you mean data.augment?" did not say."""
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        group, rest = "/".join(parts[:cut]), ".".join(parts[cut:])
        if group not in groups:
            continue
        having = sorted({config.stem for folder in config_dirs for config in (folder / group).glob("*.yaml")
                         if has_key(OmegaConf.to_container(OmegaConf.load(config)), rest)})  # fmt: skip
        if having:
            named = " and ".join(f"{group}={h}" for h in having[:3]) + (" (and more)" if len(having) > 3 else "")
            return (
                f"there is no option {key} in the chosen {group}: {named} {'have' if len(having) > 1 else 'has'} it; "
                f"choose one first, e.g. {group}={having[0]} {key}=..."
            )
    return None


TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number"}


def value_type_error(key: str, shipped: object, given: object, nullable: bool = False) -> str | None:
    """The message when `given` does not have the type of the shipped value (an int is a fine float), else None."""
    if shipped is None or isinstance(shipped, str | list | dict) or OmegaConf.is_config(shipped):
        return None  # no type to hold to: null defaults, and strings, which libraries parse themselves
    if isinstance(shipped, bool):
        ok = isinstance(given, bool)
    elif isinstance(shipped, int):
        ok = isinstance(given, int) and not isinstance(given, bool)
    else:
        ok = isinstance(given, int | float) and not isinstance(given, bool)
    if ok:
        return None
    like = str(shipped).lower() if isinstance(shipped, bool) else repr(shipped)  # as written in the YAML
    return f"{key} must be {TYPE_NAMES[type(shipped)]} (like {like}){' or null' if nullable else ''}, got {given!r}"


# Options whose default is null, so the shipped config shows no type: an example value of the type they take.
NULL_DEFAULT_TYPES = {"torch_threads": 1, "doubtful_below": 0.5}


def wrong_value_type(override: Any, key: str) -> str | None:
    """The type check of run/checks.py, made here before torch loads (about 1 s instead of 7) against the configs
    composed for this command line: the message when the value has another type than the shipped one in each."""
    if override.is_add() or override.is_delete() or key.startswith("hydra."):
        return None
    try:
        given = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
    except HydraException:  # interval(), glob(*): a search's or Hydra's to expand, not a list of values
        return None
    if any(isinstance(value, str) and "${" in value for value in given):
        return None  # an interpolation: its value is known only when the run resolves it
    if key.startswith("trainer."):  # max_epochs and limit_*_batches: run/checks.py holds them to the same
        # The Trainer's other arguments take several types (devices=1 or auto), and Lightning checks them.
        return next((m for value in given if (m := RANGE_ERRORS[key](value))), None) if key in RANGE_ERRORS else None
    messages = []
    for cfg in COMPOSED.values():
        # A shipped value that needs the running job to resolve (${hydra:runtime.output_dir}) is a path: no type.
        shipped = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        nullable = shipped is None and key in NULL_DEFAULT_TYPES and key in cfg
        if nullable:
            shipped = NULL_DEFAULT_TYPES[key]
            given = [value for value in given if value is not None]  # null stays their default
        found = [value_type_error(key, shipped, value, nullable) for value in given]
        messages.append(next((m for m in found if m), None))
    if messages and all(messages):  # refused by every group choice swept
        return messages[0]
    out_of_range = [RANGE_ERRORS[key](value) for value in given] if key in RANGE_ERRORS and COMPOSED else []
    return next((m for m in out_of_range if m), None)


def unknown_option(config_name: str, argv: list[str]) -> str | None:
    """The one-line message for the first override that names no option of the composed config, else None."""
    words = command_line_overrides(argv) or []
    parser = OverridesParser.create()
    for word in words:  # one at a time, to name the one Hydra cannot read
        try:
            parser.parse_override(word)
        except HydraException as error:
            placeholder = "; replace the <...> placeholder with a real value" if "<" in word else ""
            reason = str(error).strip().splitlines()[0]
            quoting = "quote a value with spaces or brackets, key='value'"
            return f"Hydra cannot read {word!r} ({reason}): {quoting}{placeholder}"
    if (flag := unknown_flag(argv)) is not None:  # before the stray word: in `--epochs 1`, the 1
        return unknown_flag_message(config_name, *flag)
    if (word := stray_word(argv)) is not None:  # after the parse: [12, 12] unquoted is two words, one with no =
        return stray_word_message(config_name, word)
    if not words:
        return None
    overrides = parser.parse_overrides(words)
    user_dirs = user_config_dirs(argv)
    groups = set(project_groups()).union(*(project_groups(d) for d in user_dirs if d.is_dir()))
    group_choices, values = {}, []
    for override in overrides:
        key = override.key_or_group
        hydra_group = key.startswith("hydra/")  # hydra/launcher=joblib: composed too, its settings are checked
        if override.is_force_add() and key in groups:  # Hydra: "force-add of config groups is not supported"
            given = override.input_line.lstrip("+")
            value = given.partition("=")[2]
            refused = group_the_checkpoint_decides(config_name, {key: [value]})
            return refused or f"{override.input_line}: a group is chosen without ++, as {given}"
        if override.is_force_add() or (unchecked_hydra_setting(key) and not hydra_group):
            continue  # Hydra checks its other settings; ++key=value adds or replaces by design
        if (key in groups or hydra_group) and not override.is_delete():
            try:
                options = list(override.sweep_string_iterator()) if override.is_sweep_override() else [override.value()]
            except HydraException:  # glob(*) and other sweeps Hydra expands against the config: not checked here
                return None
            group = f"+{key}" if override.is_add() else key
            group_choices[group] = ["null" if o is None else str(o) for o in options]
        elif not override.is_add() or key.startswith("trainer."):
            values.append((override, key))
    if message := group_the_checkpoint_decides(config_name, group_choices) or group_added_twice(
        config_name, group_choices
    ):
        return message
    searchpath = user_searchpath(argv)
    if message := unknown_hydra_option(config_name, group_choices, searchpath) or missing_extra(group_choices):
        return message
    swept = next((o for o in overrides if o.is_sweep_override()), None)
    if not values and swept is None:
        return None
    COMPOSED.clear()  # the configs of this command line only: their hydra.mode is read below
    try:
        keys = composed_keys(config_name, group_choices, searchpath)
    except Exception:  # noqa: BLE001 - a composition that fails for another reason: Hydra reports it next
        return None
    # -m, or a config that sets hydra.mode (hparams_search=...): Hydra then sweeps a comma list, else refuses it
    multirun = any(arg == "-m" or (len(arg) > 3 and "--multirun".startswith(arg)) for arg in argv) or any(
        arg.startswith("hydra.mode=") and arg.endswith("MULTIRUN")
        for arg in argv  # also hydra.mode=RunMode.MULTIRUN
    )
    if swept is not None and not multirun and all(cfg.hydra.mode != RunMode.MULTIRUN for cfg in COMPOSED.values()):
        if config_name in FROM_THE_CHECKPOINT and swept.key_or_group == "inputs":  # a list, not a sweep of runs
            listed = f"{swept.key_or_group}=[{','.join(swept.sweep_string_iterator())}]"
            return (
                f"{swept.input_line} gives several values: a list is written {listed} (a string with a comma in quotes)"
            )
        return (
            f"{swept.input_line} sweeps several values: add -m to run one job for each "
            "(a list is written [a,b], a string with a comma in quotes, key='a,b')"
        )
    for override, key in values:
        if override.is_add():  # +trainer.<name>: anything the Trainer does not take fails when it is built
            argument = key.removeprefix("trainer.")
            if "." not in argument and argument not in trainer_arguments():
                known = {f"trainer.{a}" for a in trainer_arguments()} | {k for k in keys if k.startswith("trainer.")}
                return f"the Trainer takes no argument {argument!r}{suggestion(key, known)}"
        elif key not in keys:
            argument = key.removeprefix("trainer.")
            if key.startswith("trainer.") and argument in trainer_arguments() - SET_BY_THE_COMMANDS:
                plus = f"+{override.input_line}"
                return f"there is no option {key}: the Trainer takes it, so add it to the config with {plus}"
            if message := option_of_another_choice(key, groups, [CONF_DIR, *user_dirs]):
                return message
            return f"there is no option {key}{suggestion(key, keys | groups)}"  # a group too: experment=fast
        elif message := settings_given_one_value(override, key, groups, [CONF_DIR, *user_dirs]):
            return message
    return next((m for override, key in values if (m := wrong_value_type(override, key))), None)


# The commands that rebuild the network their checkpoint (or exported file) holds, with its own settings
FROM_THE_CHECKPOINT = ("evaluate", "predict", "export", "serve", "photos")
DECIDED_BY_THE_CHECKPOINT = ("model", "experiment", "optimizer", "scheduler", "data")  # what a network was trained with


def config_groups(config_name: str) -> set[str]:
    """The groups a shipped config's defaults list chooses (model, experiment, ...; `experiment: null` too)."""
    defaults = OmegaConf.load(CONF_DIR / f"{config_name}.yaml").get("defaults") or []
    return {key for entry in defaults if isinstance(entry, DictConfig) for key in entry}


def group_added_twice(config_name: str, group_choices: dict[str, list[str]]) -> str | None:
    """`+experiment=fast` for a group the config already chooses: Hydra's "Multiple values for experiment. To
    override a value use 'override experiment: fast'" is advice for a defaults list, not for the command line."""
    if not (CONF_DIR / f"{config_name}.yaml").is_file():
        return None
    own = config_groups(config_name)
    for group, choices in group_choices.items():
        name = group.lstrip("+")
        if group.startswith("+") and name in own:
            given = f"{name}={','.join(choices)}"
            return f"+{given}: {name} is a group {config_name} already has, so choose it without +, as {given}"
    return None


def group_the_checkpoint_decides(config_name: str, group_choices: dict[str, list[str]]) -> str | None:
    """`evaluate ... model=pico6` (or experiment=, optimizer=, ...): a group the command does not have, as the
    checkpoint decides it. Hydra said "Could not override 'model'" and advised +model=pico6, which was then ignored."""
    if config_name not in FROM_THE_CHECKPOINT:
        return None
    own = config_groups(config_name)
    for group, choices in group_choices.items():
        name = group.lstrip("+")
        if not name.startswith("hydra/") and name.split("/")[0] not in own:
            given = f"{name}={','.join(choices)}"
            if name.split("/")[0] not in DECIDED_BY_THE_CHECKPOINT:  # trainer=, logger=, callbacks=: not a network's
                return f"{given}: {config_name} takes no {name} (--help lists its options)"
            decided = "the checkpoint decides it (as it was trained)"
            return f"{given}: {config_name} takes no {name}, {decided}; train chooses it"

    return None


def settings_given_one_value(override: Any, key: str, groups: set[str], config_dirs: list[Path]) -> str | None:
    """The message when a node of settings (data.augment, model.net, callbacks.progress_bar) is given one plain value,
    which Hydra accepts and the run's instantiate then fails on with a Python error; else None."""
    if override.is_add() or override.is_delete() or key.startswith(("hydra.", "trainer.")):
        return None  # the Trainer's arguments take a string or an object (strategy=ddp); Lightning checks them
    try:
        given = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
    except HydraException:
        return None
    plain = [value for value in given if value is not None and not isinstance(value, dict)]
    if not plain or any(isinstance(value, str) and "${" in value for value in plain):
        return None  # null, a dict, or an interpolation, known only when the run resolves it
    nodes = [OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False) for cfg in COMPOSED.values()]
    if not nodes or not all(isinstance(node, DictConfig) for node in nodes):
        return None
    value, group = override.input_line.split("=", 1)[1], key.replace(".", "/")  # a sweep's values as typed
    if group in groups:  # data.augment=affine for data/augment=affine
        missing = next(
            (str(v) for v in plain if not any((d / group / f"{v}.yaml").is_file() for d in config_dirs)), None
        )
        if missing is not None:  # data.augment=afine: its name is wrong too
            groups_list = sorted(groups)
            return f"{key} is a config group, chosen as {group}=<name>, and " + missing_choice_message(
                group, missing, groups_list, config_dirs
            )
        return f"{key} is a config group: choose from it as {group}={value}"
    parents = (g for g in sorted(groups) if key.startswith(g.replace("/", ".") + "."))
    chosen = next((g for g in parents if (CONF_DIR / g / f"{plain[0]}.yaml").is_file()), None)
    hint = f"; {chosen}={value} chooses the {chosen} of that name" if chosen else ""
    names = [str(name) for name in nodes[0] if not str(name).startswith("_")]
    some = f" ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})" if names else ""
    return f"{key} holds settings{some}, not one value: set one of them as {key}.<name>=...{hint}"


def unknown_hydra_option(config_name: str, group_choices: dict[str, list[str]], searchpath: list[str]) -> str | None:
    """The one-line message for `hydra/<group>=<option>` naming no option (Hydra's own runs to ten lines), else None.
    Hydra's groups are filled by plugins as well as by conf/hydra/, so Hydra's config loader lists them."""
    hydra_groups = {g: options for g, options in group_choices.items() if g.lstrip("+").startswith("hydra/")}
    if not hydra_groups:
        return None
    from hydra.core.global_hydra import GlobalHydra

    search = [f"hydra.searchpath=[{','.join(searchpath)}]"] if searchpath else []
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        for group, options in hydra_groups.items():
            known = loader.get_group_options(group.lstrip("+"), config_name=config_name, overrides=search)
            unknown = next((o for o in options if o != "null" and o not in known), None)
            if unknown is not None:
                # joblib's launcher and the Optuna sweeper come with an extra (pyproject.toml), not with Hydra
                hint = '; it comes with pip install -e ".[sweep]"' if unknown in ("joblib", "mnist_optuna") else ""
                return f"there is no {group.lstrip('+')} '{unknown}': choose one of {', '.join(known)}{hint}"
    return None


def missing_extra(group_choices: dict[str, list[str]]) -> str | None:
    """A search asked for without the [sweep] extra, which brings Optuna: one line, where Hydra would fail building
    the sweeper's sampler, through its own error, after the first lines of the search."""
    searches = [f"{group.lstrip('+')}={option}" for group, options in group_choices.items() for option in options
                if (group.lstrip("+") == "hparams_search" and option != "null")
                or (group.lstrip("+") == "hydra/sweeper" and option == "mnist_optuna")]  # fmt: skip
    if searches and importlib.util.find_spec("optuna") is None:
        return f'{searches[0]} searches with Optuna, which is not installed: it comes with pip install -e ".[sweep]"'
    return None


def missing_primary_config(argv: list[str]) -> str | None:
    """`--config-name NAME` naming no config of the project (Hydra's answer runs to seven lines), else None. Not with
    --config-path or --config-dir, whose folders Hydra resolves itself."""
    if any(arg.startswith(("--config-path", "-cp", "--config-dir", "-cd")) for arg in argv):
        return None
    name = None
    for i, arg in enumerate(argv):
        if arg in ("--config-name", "-cn") and i + 1 < len(argv):
            name = argv[i + 1]
        elif arg.startswith("--config-name="):
            name = arg.partition("=")[2]
    if name is None or (CONF_DIR / f"{name.removesuffix('.yaml')}.yaml").is_file():
        return None
    configs = ", ".join(sorted(path.stem for path in CONF_DIR.glob("*.yaml")))
    groups = [group for group in project_groups() if (CONF_DIR / group / f"{name}.yaml").is_file()]
    hints = "".join(f"; {group}={name} chooses the {group} of that name" for group in groups)
    return f"there is no config '{name}' (--config-name chooses a whole config: {configs}){hints}"


def check_option_names(config_name: str, argv: list[str]) -> None:
    """Exit 2 with one line when an override names an option the config does not have."""
    COMPOSED.clear()  # another command in this process (the tests run many): its files may have changed
    message = missing_primary_config(argv) or unknown_option(config_name, argv)
    if message is not None:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
