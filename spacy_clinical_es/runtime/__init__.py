"""Shells around a pipeline that process many documents: the batch runner (CLI), Spark and the HTTP service.

Each shell calls the same per-batch functions; none re-implements the pipeline.
"""
