"""tgtsim: build and test a target-mode scsi-ml port as User Mode Linux."""

__version__ = "0.1.0"
