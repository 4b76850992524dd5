"""The worker: periodic jobs, claimed through the database so several workers can run."""
