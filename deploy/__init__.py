"""Deploying CVAE Lab for a room: a Ray cluster's nodes and Streamlit replicas behind nginx (README, "Workshops")."""
