//! The cached Python venv with the official `temporalio` SDK. Filled by the dev-server issue.
