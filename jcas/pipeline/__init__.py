"""The sweep (``docs/pipeline.md``): the top layer of the package.

- :mod:`jcas.pipeline.jobs`: one entry module per workflow rule (what the scripts call);
- :mod:`jcas.pipeline.stages`: the per-point computations (drops, allocation, Monte-Carlo,
  MLE, sca audit), returning :class:`jcas.io.fields.Fields`;
- :mod:`jcas.pipeline.aggregate`: the experiment datasets;
- :mod:`jcas.pipeline.files`: the per-job files;
- :mod:`jcas.pipeline.kinds`: the functions the experiment kinds name
  (:mod:`jcas.config.kinds`);
- :mod:`jcas.pipeline.sources`: each job's source set, the import closure of its entry and
  of its parts (what makes an edit rerun exactly the jobs that run the edited code).

This package module imports nothing, so that importing one of its modules imports only
what that module needs.
"""
