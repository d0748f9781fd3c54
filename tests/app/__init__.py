"""Tests of the pages (AppTest) and the app layer, both languages."""
