"""The Spark session that `engine: spark` and `svd` `algorithm: spark_als` run on.

`start_session(settings)` builds it from params.yaml `spark` (a local master, or a Spark Connect URL in
`spark.remote` for a cluster). Loading params.yaml `configure`s those settings without starting anything;
`active_session()`, called where Spark is first needed, starts the session of the configured settings (else
of the defaults) or returns the one already running.
A machine without pyspark or without Java gets one line saying what to install.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from mindshare.errors import MindshareError
from mindshare.settings import SparkSettings

INSTALL_HINT = "pip install 'mindshare[spark]' (or `make install`, which includes it)"
_configured: list[SparkSettings] = []  # the settings of the params.yaml loaded last


def configure(settings: SparkSettings) -> None:
    """The settings `active_session` starts a session with (a session already running keeps its own)."""
    _configured[:] = [settings]


def _pyspark():
    try:
        import pyspark
        from pyspark.sql import SparkSession
    except ImportError:
        raise MindshareError(f"engine: spark needs pyspark, which is not installed: {INSTALL_HINT}") from None
    return pyspark, SparkSession


JAVA_HINT = ("install it (Debian 12: apt-get install default-jre-headless; elsewhere openjdk-17-jre-headless) or set "
             "spark.remote to a Spark Connect URL")


def jvm_here(settings: SparkSettings) -> bool:
    """Whether the session starts a JVM on this machine: any master, and `remote: local[...]` (a Spark Connect
    server started here); a Spark Connect URL (sc://...) runs the work elsewhere."""
    return settings.remote is None or settings.remote.startswith("local")


def check_java(settings: SparkSettings) -> None:
    """A session that starts a JVM here needs Java 17+: say so in one line where there is none."""
    if not jvm_here(settings):
        return
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if java is None or not Path(java).exists():
        raise MindshareError(f"engine: spark needs Java 17 or newer and there is none: {JAVA_HINT}")
    version = java_major_version(java)
    if version is not None and version < 17:
        raise MindshareError(f"engine: spark needs Java 17 or newer; {java} is Java {version}: {JAVA_HINT}")


def java_major_version(java: str) -> int | None:
    """The major version `java -version` reports ('17.0.15' -> 17, '1.8.0' -> 8); None where it says none."""
    import re
    import subprocess

    try:
        said = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', said)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major


def is_local(settings: SparkSettings) -> bool:
    """Executors on this machine (a local[...] master or local Spark Connect server): they share its Python and its
    temporary folder."""
    return (settings.remote or settings.master).startswith("local")


def session_conf(settings: SparkSettings) -> dict[str, str]:
    """The spark.* settings a session is built with: ours first, `spark.conf` over them."""
    conf = {
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
    }
    if jvm_here(settings):  # the driver JVM runs here
        conf["spark.driver.memory"] = settings.driver_memory
    if is_local(settings):  # on a cluster, give spark.checkpoint.dir on shared storage in `conf`
        conf.update({  # iterative fits (ALS) cut their lineage there; without it 15 iterations overflow the stack
            "spark.checkpoint.dir": str(Path(tempfile.gettempdir()) / "mindshare-spark-checkpoints"),
            "spark.cleaner.referenceTracking.cleanCheckpoints": "true"})
    return {**conf, **{key: str(value) for key, value in settings.conf.items()}}


def start_session(settings: SparkSettings):
    """The session of these settings (an active one is reused: Spark has one per process)."""
    _, spark_session = _pyspark()
    check_java(settings)
    set_executors_python(settings)
    local_connect = settings.remote is not None and settings.remote.startswith("local")
    if local_connect:
        wait_for_connect_port()
    builder = spark_session.builder.appName(settings.app_name)
    builder = builder.remote(settings.remote) if settings.remote else builder.master(settings.master)
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():  # Spark Connect also tries the start-up settings at run time, where it may not
        warnings.filterwarnings("ignore", message="Failed to set spark", category=UserWarning)
        session = builder.getOrCreate()
    if settings.remote is None:  # Spark Connect has no SparkContext on this side
        session.sparkContext.setLogLevel("WARN")
    if local_connect:
        import atexit

        # at exit, before the client's own exit handler (they run last first): stop the client, then the server, so
        # that its port is free for the next stage and the client's clean-up calls never wait on a stopped server
        atexit.register(session.stop)
    _started.append(session)
    return session


def set_executors_python(settings: SparkSettings) -> None:
    """PYSPARK_PYTHON, which a driver started by python (not spark-submit) gives its executors: on a cluster master,
    `spark.pyspark.python` from `spark.conf` (Spark itself reads that setting only under spark-submit); on a local
    master, this interpreter, which has mindshare and its packages (unless the user's environment names one)."""
    current = os.environ.get("PYSPARK_PYTHON")
    if settings.remote is None and not is_local(settings) and "spark.pyspark.python" in settings.conf:
        chosen = str(settings.conf["spark.pyspark.python"])
    elif is_local(settings) and (current is None or current in _pythons_set):
        chosen = sys.executable
    else:
        return
    os.environ["PYSPARK_PYTHON"] = chosen
    _pythons_set.add(chosen)


_pythons_set: set[str] = set()  # the PYSPARK_PYTHON values this process set (the user's own is kept)


CONNECT_PORT = 15002  # where pyspark's local Spark Connect server listens and its client connects (fixed)


def wait_for_connect_port(seconds: float = 60.0) -> None:
    """A local Spark Connect server takes Spark's port: wait while another (a stage that is ending) holds it, then
    say so in one line rather than connect to a server that is going away."""
    import socket
    import time

    deadline = time.monotonic() + seconds
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", CONNECT_PORT)) != 0:
                return
        if time.monotonic() > deadline:
            raise MindshareError(f"spark.remote local[...]: port {CONNECT_PORT} is held by another Spark Connect "
                                 "server (another pipeline?); stop it, or use spark.master")
        time.sleep(0.5)


def active_session():
    """The running session, else one started from the configured settings (else the defaults: local[*])."""
    _, spark_session = _pyspark()
    running = spark_session.getActiveSession()
    if running is None and _started and is_connect(_started[-1]) and not _started[-1].is_stopped:
        running = _started[-1]  # Spark Connect keeps its active session per thread: another thread sees none
    return running or start_session(_configured[0] if _configured else SparkSettings())


_started: list = []  # the sessions this process started, the last one last


_shipped: dict[tuple[str, str], str] = {}  # (session, a file's path and version) -> the name executors open


def is_connect(session) -> bool:
    """Whether `session` is a Spark Connect client (no SparkContext on this side)."""
    return type(session).__module__.startswith("pyspark.sql.connect")


def default_parallelism(session) -> int:
    """How many tasks keep every core busy: Spark's default parallelism, or with Spark Connect (which does not
    tell the client) the shuffle partitions."""
    if is_connect(session):
        partitions = str(session.conf.get("spark.sql.shuffle.partitions", "2"))
        return int(partitions) if partitions.isdigit() else 2  # a managed server may say 'auto'
    return int(session.sparkContext.defaultParallelism)


def ship_file(path: Path) -> str:
    """`path` sent to every executor of the active session (SparkContext.addFile; addArtifacts on Spark Connect)
    under a name unique to its content's version; executors open it with `pyspark.SparkFiles.get(name)`. Spark
    refuses one name for two files, and every family's file is model.pkl: the name carries the folder and the
    file's size and time."""
    import hashlib

    session = active_session()
    stat = path.stat()
    version = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    key = (session.session_id if is_connect(session) else session.sparkContext.applicationId, version)
    if key not in _shipped:
        name = f"{path.parent.name}-{hashlib.sha256(version.encode()).hexdigest()[:16]}{path.suffix}"
        copy = _ship_folder() / name
        if not copy.exists():
            try:
                os.link(path, copy)  # no copy where the two are on one file system
            except OSError:
                shutil.copyfile(path, copy)
        if is_connect(session):
            session.addArtifacts(str(copy), file=True)
        else:
            session.sparkContext.addFile(str(copy))
        _shipped[key] = name
    return _shipped[key]


def _ship_folder() -> Path:
    """This process's folder of files sent to executors (Spark keeps its own copies), removed when it exits."""
    if not _ship_folders:
        import atexit

        _ship_folders.append(Path(tempfile.mkdtemp(prefix="mindshare-ship-")))
        atexit.register(shutil.rmtree, _ship_folders[0], True)
    return _ship_folders[0]


_ship_folders: list[Path] = []
