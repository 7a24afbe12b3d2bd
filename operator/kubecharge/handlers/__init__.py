"""The operator (an entry point): kopf handlers parse the resource, run `pipeline.job.produce_report`, write the
ConfigMap (through `kube`) and status (`status.report_status`, one pure function), post Events and self-metrics.
Never imports a stage."""
