"""The served versions: `@production` (and `@challenger` during an online experiment) loaded and made ready
before one reference swap, the registry polled, the forget list re-read, audiences cached per version."""

from __future__ import annotations

import logging
import pathlib
import threading
import time

from starlette.exceptions import HTTPException

from mindshare import layout
from mindshare.errors import MindshareError
from mindshare.marketing.online_log import EVENT_SCHEMA, EXPOSURE_SCHEMA, LogWriter
from mindshare.serving.answers import Answers, VersionInfo
from mindshare.serving.experiment import Served
from mindshare.settings import OnlineSettings
from mindshare.tracking.aliases import CHALLENGER, PRODUCTION
from mindshare.tracking.store import FAMILY_TAG, GIT_COMMIT_TAG

log = logging.getLogger(__name__)


AUDIENCE_CACHE = 32  # audiences kept per served version (campaign, budget)
class ModelHolder:
    """The answers of the current production version, and the loader that replaces them."""

    def __init__(self, name: str, max_k: int = 100, poll_seconds: float = 5.0, root: str | pathlib.Path = "."):
        self.name, self.max_k, self.poll_seconds = name, max_k, poll_seconds
        self.root = pathlib.Path(root)
        self.served: Served | None = None
        self.loaded_at = 0.0
        self.checked_at = 0.0  # monotonic time of the last successful registry check
        self.forgotten: frozenset[str] = frozenset()  # the forget list's pseudonyms, re-read when it changes
        self._forget_state: tuple | None = None
        self.read_forget_list()
        self._loading = threading.Lock()
        self._stop = threading.Event()
        self._client = None  # one registry client: making one per poll costs a store set-up each time
        online = self._online_settings()
        bounds = {"flush_seconds": online.log_flush_seconds, "flush_records": online.log_flush_records,
                  "max_queued_records": online.log_max_queued_records, "retention_days": online.retention_days}
        self.exposures = LogWriter(self.root / layout.EXPOSURES, EXPOSURE_SCHEMA, **bounds)
        self.events = LogWriter(self.root / layout.ONLINE_EVENTS, EVENT_SCHEMA, **bounds)

    @property
    def current(self) -> Answers | None:
        """The production version's answers (None before the first load)."""
        return self.served.production if self.served is not None else None

    def _online_settings(self) -> OnlineSettings:
        params = self.root / layout.PARAMS
        if not params.exists():
            return OnlineSettings()
        from mindshare.settings import Settings

        return Settings.from_yaml(params).online

    def _answers(self, client, version, alias: str, loaded: Answers | None) -> Answers:
        """The version's answers: the loaded ones if it is the same version, else loaded and made ready now."""
        from mindshare.tracking.production import load_recommender

        if loaded is not None and loaded.info.version == str(version.version):
            return loaded
        started = time.perf_counter()
        wrapper = load_recommender(self.name, version.version)
        tags = client.get_run(version.run_id).data.tags if version.run_id else {}
        info = VersionInfo(self.name, str(version.version), alias, tags.get(FAMILY_TAG, ""),
                           tags.get(GIT_COMMIT_TAG, ""), version.run_id or "")
        answers = Answers(wrapper, info, self.max_k)
        log.info("loaded %s version %s (%s) as %s, ready in %.1f s", self.name, info.version, info.family, alias,
                 time.perf_counter() - started)
        return answers

    def refresh(self) -> bool:
        """Load what the aliases and the online settings ask for if it is not what is served; True if it
        swapped. Production and, during an experiment, the challenger are swapped together."""
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        with self._loading:
            client = self._client = self._client or MlflowClient()
            try:
                version = client.get_model_version_by_alias(self.name, PRODUCTION)
            except MlflowException:
                if self.served is None:
                    raise MindshareError(f"'{self.name}' has no production version yet; run `mindshare promote "
                                         "--reason TEXT` first") from None
                return False
            try:
                online = self._online_settings()
            except MindshareError as error:  # a params.yaml being edited: keep the settings in force
                log.warning("online settings not re-read: %s", error)
                online = self.served.online if self.served is not None else OnlineSettings()
            challenger_version = None
            if online.challenger_share > 0:
                try:
                    challenger_version = client.get_model_version_by_alias(self.name, CHALLENGER)
                except MlflowException:
                    log.warning("online.challenger_share is %s but '%s' has no challenger: everyone gets production",
                                online.challenger_share, self.name)
                if challenger_version is not None and str(challenger_version.version) == str(version.version):
                    challenger_version = None  # the challenger was promoted: nothing left to compare
            old = self.served
            wanted = (str(version.version), str(challenger_version.version) if challenger_version else None, online)
            if old is not None and wanted == (old.production.info.version,
                                              old.challenger.info.version if old.challenger else None, old.online):
                return False
            production = self._answers(client, version, PRODUCTION, old.production if old else None)
            loaded_challenger = old.challenger if old and old.challenger else None
            if loaded_challenger is None and old is not None and challenger_version is not None \
                    and old.production.info.version == str(challenger_version.version):
                loaded_challenger = old.production
            challenger = (self._answers(client, challenger_version, CHALLENGER, loaded_challenger)
                          if challenger_version is not None else None)
            self.served, self.loaded_at = Served(production, challenger, online), time.time()  # the swap
            log.info("serving %s version %s%s", self.name, production.info.version,
                     f"; challenger version {challenger.info.version} on {online.challenger_share:.0%} "
                     f"({online.method})" if challenger is not None else "")
            return True

    def answer(self, user_id: str, k: int, gender: str | None, age: int | None, pseudonymised: bool = False) -> dict:
        """One answer from what is served; its exposures queued for the log while an experiment runs."""
        served = self.ready_served()
        payload, exposures = served.answer(user_id, k, gender, age, pseudonymised, self.forgotten)
        if served.method != "off":
            self.exposures.append(exposures)
        return payload

    def watch(self) -> None:
        """Poll until stopped; no exception ends the thread (each is logged, by type when it has no message)."""
        while not self._stop.wait(self.poll_seconds):
            try:
                self.read_forget_list()
                self.refresh()
                self.checked_at = time.monotonic()
            except Exception as error:  # keep serving what is loaded; say why once per poll
                said = (str(error).splitlines() or [""])[0] or type(error).__name__
                log.warning("could not check or load the production version: %s", said)

    def read_forget_list(self) -> None:
        """Re-read the forget list if it changed: a forgotten person is answered as a stranger and not logged."""
        path = self.root / layout.FORGET_LIST
        try:
            found = path.stat()
            state = (found.st_mtime_ns, found.st_size)
        except OSError:
            state = None
        if state != self._forget_state:
            text = path.read_text() if state is not None else ""
            self.forgotten = frozenset(line.strip() for line in text.splitlines() if line.strip())
            self._forget_state = state

    def checked_seconds_ago(self) -> float | None:
        return round(time.monotonic() - self.checked_at, 1) if self.checked_at else None

    def status(self) -> str:
        """ok, or stale when the registry has not been read for 10 polls (the loaded version may be outdated)."""
        ago = self.checked_seconds_ago()
        return "stale" if ago is not None and ago > 10 * self.poll_seconds else "ok"

    def start_watching(self) -> None:
        threading.Thread(target=self.watch, name="production-watch", daemon=True).start()

    def stop(self) -> None:
        """Stop watching the registry and write what the logs still hold."""
        self._stop.set()
        self.exposures.close()
        self.events.close()

    def audience(self, campaign: str, budget: int | None) -> dict:
        """A campaign's audience from the served version; the last `AUDIENCE_CACHE` answers are kept with it."""
        answers = self.ready()
        cache = answers.audiences
        key = (campaign, budget)
        found = cache.get(key)
        if found is None:
            from mindshare.marketing.campaign_runs import single_campaign
            from mindshare.project.outputs import campaign_history, known_test_split, read_table
            from mindshare.project.params import load_settings

            settings = load_settings()
            named = [c for c in settings.campaigns if c.name == campaign]
            chosen, table, row = single_campaign(answers.recommender, settings.campaigns, campaign, budget,
                                                 settings.audience, read_table(layout.ITEMS, "items"),
                                                 known_test_split(), answers.policy.exclude_seen,
                                                 campaign_history(settings, named))
            members = [{"user_id": r.user_id, "score": float(r.score), "group": r.group, "reason": r.reason,
                        "top_items": list(r.top_items)} for r in table.itertuples(index=False)]
            summary = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            found = {"campaign": chosen.name, "model": model_ref(answers), "summary": summary, "audience": members}
            if len(cache) >= AUDIENCE_CACHE:
                cache.pop(next(iter(cache)))
            cache[key] = found
        return found

    def version(self) -> dict:
        """The served version as GET /version and POST /admin/reload describe it, and the experiment if one runs."""
        served = self.ready_served()
        experiment = None
        if served.method != "off":
            experiment = {"challenger_version": served.challenger.info.version, "method": served.method,
                          "challenger_share": served.online.challenger_share}
        return {**served.production.info.__dict__, "loaded_at": self.loaded_at, "experiment": experiment}

    def ready(self) -> Answers:
        return self.ready_served().production

    def ready_served(self) -> Served:
        served = self.served
        if served is None:
            raise HTTPException(503, "no production model is loaded yet")
        return served


def model_ref(answers: Answers) -> dict:
    return {"name": answers.info.name, "version": answers.info.version, "alias": answers.info.alias}
