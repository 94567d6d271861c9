import hashlib

import pytest

from qassess.errors import UserError
from qassess.core.prompts import get_template

PAPER_STAGE1_USER_START = "What is your overall rating on the quality of this picture? The rating should"


def test_paper_preset_matches_the_reference_prompts():
    import json
    from pathlib import Path

    quoted = json.loads((Path(__file__).parent / "data" / "paper_prompts.json").read_text(encoding="utf-8"))
    system1, user1, system2 = quoted["system"], quoted["user"], quoted["caption_system"]
    t = get_template("paper")
    assert t.system == system1 and t.user == user1 and t.caption_system == system2
    assert "logics.First" in t.system and "Second  thinks" in t.system  # the originals' typos are kept
    assert t.user.startswith(PAPER_STAGE1_USER_START) and t.user.endswith('"rating": The score.')


def test_paper_messages_image_first_then_text():
    msgs = get_template("paper").image_messages()
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[1]["content"][0] == {"type": "image"}
    assert msgs[1]["content"][1]["type"] == "text"


def test_caption_stage_replaces_placeholder_literally():
    t = get_template("paper")
    text = t.caption_messages('a {blurry} "cat"')[1]["content"][0]["text"]
    assert text.startswith('If there is an image described as a {blurry} "cat", what is your overall rating')
    assert "image_place_holder" not in text
    assert text.endswith(t.user.split("? ", 1)[1])
    assert not any(c.get("type") == "image" for m in t.caption_messages("x") for c in m["content"])


def test_paper_preset_digest():
    # Pinned digest of the four strings: any edit of the byte-exact preset fails here, caption_user included.
    t = get_template("paper")
    joined = "\x00".join([t.system, t.user, t.caption_system, t.caption_user])
    assert hashlib.sha256(joined.encode()).hexdigest() == "0612be6b816de5288524f95d9d6f1de683f4b09121fcd79fb798d448f381601e"


def test_user_template_file(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("system: Be brief.\nuser: Rate it.\ncaption_system: ''\ncaption_user: 'Rate: {{c}}'\nplaceholder: '{{c}}'\n")
    t = get_template(str(f))
    assert t.name == "mine"
    assert t.caption_messages("dark photo") == [{"role": "user", "content": [{"type": "text", "text": "Rate: dark photo"}]}]


@pytest.mark.parametrize(
    "body, message",
    [
        ("user: x\n", "missing key"),
        ("system: a\nuser: b\ncaption_system: c\ncaption_user: d\nextra: 1\n", "unknown key"),
        ("system: a\nuser: b\ncaption_system: c\ncaption_user: no placeholder\n", "placeholder"),
        ("[1, 2]", "expected a mapping"),
        ("system: [\n", "not valid YAML"),
    ],
)
def test_bad_template_files(tmp_path, body, message):
    f = tmp_path / "t.yaml"
    f.write_text(body)
    with pytest.raises(UserError, match=message):
        get_template(str(f))


def test_unknown_template_name():
    with pytest.raises(UserError, match="unknown template"):
        get_template("nope")
