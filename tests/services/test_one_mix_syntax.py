"""One mix syntax, one parser: the form's and the command's text, a scenario's stored JSON table
and a scenario file's TOML (text, or a table as older files have) all read the same through
``mix_parse``; a scenario file is written in the text syntax and reads back identically."""

from __future__ import annotations

import tomllib

import pytest

from synthadmin.exceptions import InvalidRequestError
from synthadmin.forms import GenerateForm, ScenarioForm
from synthadmin.models import Scenario
from synthadmin.services.requests import mix_parse, mix_text
from synthadmin.services.scenarios import scenario_export, scenario_import, scenario_request

EXPECTED = {"stable": 50, "cycling": 25, "depressive": 25}


def test_text_json_and_tables_read_alike():
    assert mix_parse("stable=50, cycling=25,depressive=25") == EXPECTED
    assert mix_parse('{"stable": 50, "cycling": 25, "depressive": 25}') == EXPECTED
    assert mix_parse(dict(EXPECTED)) == EXPECTED
    assert mix_text(EXPECTED) == "stable=50,cycling=25,depressive=25"


@pytest.mark.parametrize(
    "value",
    ["stable", "stable=5.5", "stable=1,stable=2", {"stable": 1.5}, {"stable": True}, '{"stable": ', 7],
)
def test_anything_else_is_refused_naming_the_mix(value):
    with pytest.raises(InvalidRequestError) as raised:
        mix_parse(value)
    assert raised.value.field == "mix"


@pytest.mark.django_db
def test_scenario_files_write_the_text_syntax_and_read_tables_too():
    scenario = Scenario(name="mixed", patients=8, therapists=1, checkin_days=5, mix=EXPECTED, seed=3)
    text = scenario_export(scenario)
    assert tomllib.loads(text)["scenario"]["mix"] == "stable=50,cycling=25,depressive=25"
    assert scenario_import(text).mix == EXPECTED
    older = '[scenario]\nname = "older"\npatients = 8\n\n[scenario.mix]\nstable = 50\ncycling = 25\ndepressive = 25\n'
    assert scenario_request(scenario_import(older)).mix == EXPECTED


@pytest.mark.django_db
def test_the_forms_take_and_show_the_same_text():
    form = GenerateForm(
        {
            "patients": "8",
            "therapists": "0",
            "checkin_days": "5",
            "pattern": "stable",
            "mix": "stable=50,cycling=25,depressive=25",
        }
    )
    assert form.is_valid(), form.errors
    assert form.generation_request().mix == EXPECTED
    field = ScenarioForm(instance=Scenario(name="s", mix=EXPECTED))["mix"]
    assert field.value() == "stable=50,cycling=25,depressive=25"
    assert 'value="stable=50,cycling=25,depressive=25"' in str(field)
