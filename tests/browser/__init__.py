"""Tests of the app in headless Chromium: pages, the browser's decoder, accessibility."""
