"""The launcher `make run` starts (`streamlit run ui/serve.py`): the app (app.py and pages/, as Streamlit runs them) and,
beside it, the light routes for phones in a room (ui/phone.py: a small page and server-sent events, not a Streamlit
session per phone). `streamlit run app.py` still serves the app alone, and AppTest opens app.py as before.

It imports no torch: Streamlit's first paint does not wait for it (the training process starts with the first page).
"""

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `streamlit run ui/serve.py` puts ui/ on the path, not the project

from ui.phone import routes  # noqa: E402

app = st.App(str(ROOT / "app.py"), routes=routes())
