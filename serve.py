"""The launcher `make run` starts (`streamlit run serve.py`): the app (app.py and pages/, as Streamlit runs them) and,
beside it, the light routes for phones in a room (ui/phone.py: a small page and server-sent events, not a Streamlit
session per phone). `streamlit run app.py` still serves the app alone, and AppTest opens app.py as before.

It imports no torch: Streamlit's first paint does not wait for it (the training process starts with the first page).
"""

import streamlit as st

from ui.phone import routes

app = st.App("app.py", routes=routes())
