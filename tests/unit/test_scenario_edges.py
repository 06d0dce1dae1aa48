"""Scenario edge cases (issue 8, part 2): empty files, FIFOs and devices, a byte order mark, a
local file named like a built-in, fractional counts, several errors at once, and "did you mean"
for unknown keys. Standing guards: later changes must keep them green."""

from __future__ import annotations

import os
import pickle
import re
import stat
import threading
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seedsoil.params import default_parameters
from seedsoil.scenario import (
    MAX_ERRORS,
    ScenarioError,
    ScenarioWarning,
    builtin_names,
    load_builtin,
    load_scenario,
    scenario_from_dict,
)
from scenario_files import error_of, write

SRC = Path(__file__).resolve().parents[2] / "src" / "seedsoil"
P = default_parameters()
LINE = re.compile(r"^(?P<source>[^:]+): (?P<key>[^ =:]+)(?: = (?P<value>.+?))?: (?P<allowed>.+)$")




def load_warning(spec, **kwargs) -> tuple[object, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_scenario(spec, **kwargs)
    return loaded, [w for w in caught if issubclass(w.category, ScenarioWarning)]


def no_warning(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        return load_scenario(spec)


# --- 1. an empty file runs the defaults as "custom", and says so once -------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   \n"], ids=["empty", "blank-lines", "comment"])
def test_empty_file_runs_defaults_with_one_warning(tmp_path, text):
    path = write(tmp_path, text)
    (scenario, params), caught = load_warning(path)
    assert scenario.name == "custom"
    assert params.digest() == P.digest()
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: ")
    assert "empty" in msg and '"custom"' in msg and "defaults" in msg


@pytest.mark.skipif(not os.path.exists(os.devnull) or os.name != "posix", reason="needs /dev/null")
def test_dev_null_is_an_empty_scenario():
    (scenario, params), caught = load_warning(os.devnull)
    assert scenario.name == "custom" and params.digest() == P.digest()
    assert len(caught) == 1 and "empty" in str(caught[0].message)


@pytest.mark.skipif(os.name != "posix", reason="needs /dev/null and symlinks")
def test_link_to_dev_null_is_an_empty_scenario(tmp_path):
    link = tmp_path / "none.toml"
    link.symlink_to(os.devnull)
    (scenario, _), caught = load_warning(link)
    assert scenario.name == "custom" and len(caught) == 1


def test_warning_hook_gets_the_line_instead_of_a_python_warning(tmp_path):
    path = write(tmp_path, "")
    lines: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Python warning would raise here
        scenario, _ = load_scenario(path, on_warning=lines.append)
    assert scenario.name == "custom"
    assert len(lines) == 1 and "\n" not in lines[0] and "empty" in lines[0]


def test_a_file_with_settings_gives_no_warning(tmp_path):
    assert no_warning(write(tmp_path, "[cohort]\n"))[0].name == "custom"
    assert no_warning(write(tmp_path, 'name = "x"\n'))[0].name == "x"


# --- 2. a FIFO or a device is refused at once, never opened -----------------------------------


def _load_in_thread(spec, timeout: float = 10.0):
    box: dict[str, object] = {}

    def target():
        try:
            box["result"] = load_scenario(spec)
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            box["error"] = err

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    return t, box


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    t, box = _load_in_thread(fifo)
    if t.is_alive():  # unblock the reader so that the test process can end, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        t.join(5)
        pytest.fail("loading a FIFO blocked")
    err = box.get("error")
    assert isinstance(err, ScenarioError), box
    msg = str(err)
    assert msg.startswith(f"{fifo}: ") and "\n" not in msg
    assert "not a regular file" in msg and "FIFO" in msg


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_character_device_is_refused():
    t, box = _load_in_thread("/dev/zero")
    assert not t.is_alive(), "loading /dev/zero did not finish"
    err = box.get("error")
    assert isinstance(err, ScenarioError), box
    assert "not a regular file" in str(err) and "character device" in str(err)


def test_non_regular_file_is_never_opened(tmp_path, monkeypatch):
    """The check is os.stat before any open: a FIFO's open would block."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("needs mkfifo")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    opened: list[object] = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(fifo)
    assert opened == []


def test_folder_is_refused(tmp_path):
    msg = str(error_of(tmp_path))
    assert msg.startswith(f"{tmp_path}: ") and "cannot read the file" in msg and "folder" in msg


def test_huge_file_is_refused(tmp_path):
    from seedsoil.scenario.load import MAX_FILE_BYTES

    path = tmp_path / "huge.toml"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    assert "MiB" in str(error_of(path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_cli_refuses_a_fifo_in_one_line(tmp_path):
    from seedsoil.interfaces.cli import app

    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    res = CliRunner().invoke(app, ["run", str(fifo), "--patients", "5", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not a regular file" in errors[0]
    assert not (tmp_path / "out").exists()


# --- 3. a UTF-8 byte order mark is accepted ---------------------------------------------------


def test_utf8_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'name = "bom"\n[parameters]\n"nodes.count" = 30\n')
    scenario, params = no_warning(path)
    assert scenario.name == "bom" and params["nodes.count"] == 30


def test_bom_only_file_is_empty(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf")
    (scenario, _), caught = load_warning(path)
    assert scenario.name == "custom" and len(caught) == 1


def test_invalid_utf8_still_refused(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"\xef\xbb\xbf" + 'name = "Hôpital"\n'.encode("latin-1"))
    msg = str(error_of(path))
    assert "cannot read the file" in msg and "UTF-8" in msg


# --- 4. a local file named like a built-in wins, and says so ----------------------------------


@pytest.mark.parametrize("name", builtin_names())
def test_local_file_named_like_a_builtin_is_used_with_one_warning(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, 'name = "mine"\n', name)
    (scenario, _), caught = load_warning(name)
    assert scenario.name == "mine"
    assert len(caught) == 1
    msg = str(caught[0].message)
    assert "\n" not in msg and msg.startswith(f"{name}: ")
    assert "built-in" in msg and "using the file" in msg and str(tmp_path / name) in msg


def test_local_file_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[cohort]\nfollow_up_years = 0\n", "small")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ScenarioError) as info:
            load_scenario("small")
    assert str(info.value).startswith("small: cohort.follow_up_years = 0: ")
    assert len([w for w in caught if issubclass(w.category, ScenarioWarning)]) == 1  # says which was used


def test_builtin_without_local_file_gives_no_warning(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert no_warning("small")[0].name == "small"


def test_local_folder_named_like_a_builtin_is_ignored(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small").mkdir()  # e.g. an output folder from `seedsoil run small --out small`
    assert no_warning("small")[0].name == "small"


def test_load_builtin_ignores_local_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, 'name = "mine"\n', "small")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        assert load_builtin("small")[0].name == "small"
    with pytest.raises(ScenarioError, match="no such built-in scenario"):
        load_builtin("huge")


# --- 5. counts must be whole numbers ----------------------------------------------------------


def _read_with_int() -> set[str]:
    """Parameter names the code reads with int(p[...]) or int(params[...])."""
    pattern = re.compile(r"""int\(\s*(?:p|params|self\.params|self\.p)\[\s*["']([\w.]+)["']\s*\]\s*\)""")
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_parameter_read_as_int_is_marked_integer():
    used = _read_with_int()
    assert {"nodes.count", "nodes.sentinel_count", "nodes.pn1a_max_positive", "nodes.pn2a_max_positive"} <= used
    assert used <= P.integers, f"read with int(...) but not marked integer: {sorted(used - P.integers)}"


@pytest.mark.parametrize("name", sorted(P.integers))
def test_fractional_count_is_rejected(tmp_path, name):
    rec = P.meta(name)
    value = rec.minimum + 0.5
    path = write(tmp_path, f'[parameters]\n"{name}" = {value!r}\n')
    err = error_of(path)
    msg = str(err)
    assert msg == f"{path}: parameters.{name} = {value!r}: must be a whole number in " \
                  f"[{rec.minimum:g}, {rec.maximum:g}] {rec.unit}"
    assert err.key == f"parameters.{name}" and err.value == value


def test_node_count_two_and_a_half(tmp_path):
    path = write(tmp_path, "[parameters.nodes]\ncount = 2.5\n")
    assert str(error_of(path)).startswith(f"{path}: parameters.nodes.count = 2.5: must be a whole number")


def test_whole_float_count_is_accepted(tmp_path):
    _, params = load_scenario(write(tmp_path, '[parameters]\n"nodes.count" = 30.0\n"nodes.sentinel_count" = 3\n'))
    assert params["nodes.count"] == 30 and params["nodes.sentinel_count"] == 3


# --- 6. several errors are all reported, in file order ----------------------------------------


def lines_of(err: ScenarioError) -> list[re.Match]:
    """The problem lines of ``str(err)`` (not the count of those left out), each parsed."""
    out = []
    for line in str(err).split("\n")[:len(err.errors)]:
        m = LINE.match(line)
        assert m, f"not in the FILE: KEY = VALUE: allowed form: {line!r}"
        out.append(m)
    return out


def test_several_errors_each_on_its_own_line_in_file_order(tmp_path):
    path = write(tmp_path, """\
engine = "turbo"
name = 3
[cohort]
age_mean = 200
[parameters]
"nodes.count" = 2.5
"growth.vdt_days.her2" = 5000
[[clones]]
name = "main"
share = "all"
""")
    err = error_of(path)
    keys = ["engine", "name", "cohort.age_mean", "parameters.nodes.count", "parameters.growth.vdt_days.her2"]
    assert [m["key"] for m in lines_of(err)] == keys[:MAX_ERRORS]
    assert all(m["source"] == str(path) for m in lines_of(err))
    assert len(err.errors) == MAX_ERRORS == 5
    assert [e.key for e in err.errors] == keys
    assert all("\n" not in str(e) for e in err.errors)
    assert (err.source, err.key, err.value) == (str(path), "engine", "turbo")  # the first problem
    assert err.omitted == 1  # the clone share is the sixth problem
    assert len(str(err).split("\n")) == MAX_ERRORS + 1
    assert str(err).split("\n")[-1].startswith(f"{path}: 1 more problem not shown")


def test_three_errors_are_three_lines(tmp_path):
    path = write(tmp_path, '[cohort]\nage_sd = -1\n[parameters]\n"nodes.count" = 2.5\n"no.such" = 1\n')
    err = error_of(path)
    lines = str(err).split("\n")
    assert len(lines) == 3
    assert lines[0] == f"{path}: cohort.age_sd = -1: must be a number in [0, 40]"
    assert lines[1].startswith(f"{path}: parameters.nodes.count = 2.5: must be a whole number")
    assert lines[2].startswith(f"{path}: parameters.no.such = 1: unknown parameter")


def test_parameter_errors_keep_their_file_order(tmp_path):
    names = ["nodes.count", "circulation.nk_death", "growth.vdt_days.her2", "nodes.sentinel_count"]
    body = "".join(f'"{n}" = -7.5\n' for n in names)
    err = error_of(write(tmp_path, "[parameters]\n" + body))
    assert [e.key for e in err.errors] == [f"parameters.{n}" for n in names]


def test_more_than_five_errors_are_counted(tmp_path):
    body = "".join(f"bad_{i} = {i}\n" for i in range(8))
    err = error_of(write(tmp_path, body))
    lines = str(err).split("\n")
    assert len(lines) == MAX_ERRORS + 1
    assert [e.key for e in err.errors] == [f"bad_{i}" for i in range(MAX_ERRORS)]
    assert err.omitted == 3 and "3 more problems not shown" in lines[-1]


def test_cross_check_is_reported_with_other_errors(tmp_path):
    path = write(tmp_path, 'nmae = 1\n[parameters]\n"colony.death_rate_per_day" = 1.0\n')
    err = error_of(path)
    assert [e.key for e in err.errors] == ["nmae", "parameters.colony.death_rate_per_day"]


def test_duplicate_and_range_errors_together(tmp_path):
    path = write(tmp_path, '[parameters]\n"growth.vdt_days.her2" = 100\n"nodes.count" = 99\n'
                           "[parameters.growth.vdt_days]\nher2 = 120\n")
    err = error_of(path)
    assert [e.key for e in err.errors] == ["parameters.growth.vdt_days.her2", "parameters.nodes.count"]
    assert "given twice" in err.errors[0].allowed


def test_failed_clone_items_do_not_add_a_too_short_error(tmp_path):
    err = error_of(write(tmp_path, '[[clones]]\nname = "main"\nshare = "x"\n'))
    assert [e.key for e in err.errors] == ["clones[0].share"]


def test_single_error_format_is_unchanged():
    err = pytest.raises(ScenarioError, scenario_from_dict, {"cohort": {"follow_up_years": 0}}, "src").value
    assert str(err) == "src: cohort.follow_up_years = 0: must be a number in (0, 40]"
    assert err.errors[0].line == str(err) and err.more == () and err.omitted == 0


def test_multi_error_survives_pickling(tmp_path):
    err = error_of(write(tmp_path, "a = 1\nb = 2\n"))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ScenarioError
    assert str(back) == str(err) and [e.key for e in back.errors] == ["a", "b"]


def test_subclasses_keep_the_constructor():
    from seedsoil.engine.contract import ModelRangeError

    err = ModelRangeError("src", "parameters", 1, "too many")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ModelRangeError and str(back) == "src: parameters = 1: too many"


# --- 7. unknown keys get "did you mean" -------------------------------------------------------


@pytest.mark.parametrize(("text", "key", "hint"), [
    ('nmae = "x"\n', "nmae", "did you mean name?"),
    ('engin = "fast"\n', "engin", "did you mean engine?"),
    ("[cohorts]\nage_mean = 60\n", "cohorts", "did you mean cohort?"),
    ('[parameter]\n"nodes.count" = 3\n', "parameter", "did you mean parameters?"),
    ("[cohort]\nfollowup_years = 3\n", "cohort.followup_years", "did you mean follow_up_years?"),
    ("[cohort]\nage_means = 60\n", "cohort.age_means", "did you mean age_mean"),
    ("[cohort.subtype_shares]\nluminal = 1\n", "cohort.subtype_shares.luminal", "luminal_a"),
    ('[[clones]]\nname = "main"\nshare = 1.0\ntrait = {}\n', "clones[0].trait", "did you mean traits?"),
    ("[nodes]\ncount = 3\n", "nodes", "did you mean parameters.nodes?"),
])
def test_unknown_key_suggests_the_closest(tmp_path, text, key, hint):
    path = write(tmp_path, text)
    err = error_of(path)
    assert err.key == key
    assert "unknown key" in err.allowed and hint in err.allowed, str(err)
    assert "\n" not in str(err)


def test_unknown_key_without_a_close_match_has_no_hint(tmp_path):
    err = error_of(write(tmp_path, "zzzzzz = 1\n"))
    assert "unknown key" in err.allowed and "did you mean" not in err.allowed


def test_stat_kinds_are_named():
    from seedsoil.scenario.load import _FILE_KINDS

    assert {text for _, text in _FILE_KINDS} >= {"a FIFO (named pipe)", "a character device"}
    assert all(callable(test) for test, _ in _FILE_KINDS) and stat.S_ISFIFO in {t for t, _ in _FILE_KINDS}
