"""The app's Dossier (voice-profile records), re-written from its documented behaviour
(../shared/reference/python-original-behaviour.md §3) with the standard library only.

Paths are relative to the working directory, as in the app: run it with cwd = the app directory.
`gcs` is any object with upload_voice_profile / download_voice_profile / delete_voice_profile (the
tests pass a small google-cloud-storage wrapper pointed at an emulator), or None.

Used by the end-to-end tests to prove that rexstore and the app read and write the same records.
"""
import fcntl
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path


class Dossier:
    def __init__(self, user_id, gcs=None):
        self.user_id = user_id
        self.gcs = gcs
        self.data = self.load()

    def _path(self):
        return Path("dossiers") / f"{self.user_id}.json"

    def load(self):
        # The app locks the data file itself for reading and swallows every error as {}.
        path = self._path()
        if not path.exists():
            return {}
        try:
            with open(path, encoding="utf-8") as f:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
                try:
                    return json.load(f)
                finally:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        except (OSError, json.JSONDecodeError):
            return {}

    def _write(self, path, data):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, path)
        except Exception:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise

    def _locked(self, body):
        path = self._path()
        lock = path.parent / f".{path.name}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "w", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                body(path)
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def save(self):
        # The app's shallow merge: what is on disk, overlaid by everything in memory.
        def body(path):
            if path.exists():
                with open(path, encoding="utf-8") as f:
                    self.data = {**json.load(f), **self.data}
            self._write(path, self.data)
        self._locked(body)

    def update(self, key, value):
        self.data[key] = value
        self.save()

    def append_to_list(self, key, item):
        def body(path):
            if path.exists():
                with open(path, encoding="utf-8") as f:
                    self.data = json.load(f)
            items = self.data.get(key, [])
            if not isinstance(items, list):
                items = []
            items.append(item)
            self.data[key] = items
            self._write(path, self.data)
        self._locked(body)

    def store_voice_profile(self, profile_id, voice_samples, metadata=None):
        if self.gcs is not None:
            try:
                names = self.gcs.upload_voice_profile(profile_id=profile_id, user_id=self.user_id, voice_samples=voice_samples)
                profiles = self.data.get("voice_profiles", {})
                profiles[profile_id] = {"storage": "gcs", "blob_names": names, "metadata": metadata or {},
                                        "created_at": datetime.now(UTC).isoformat()}
                self.update("voice_profiles", profiles)
                return
            except Exception:
                pass
        directory = Path("voice_profiles") / self.user_id / profile_id
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, sample in enumerate(voice_samples):
            p = directory / f"sample_{i}.wav"
            p.write_bytes(sample)
            paths.append(str(p))
        profiles = self.data.get("voice_profiles", {})
        profiles[profile_id] = {"storage": "local", "sample_paths": paths, "metadata": metadata or {},
                                "created_at": datetime.now(UTC).isoformat()}
        self.update("voice_profiles", profiles)

    def retrieve_voice_profile(self, profile_id):
        info = self.data.get("voice_profiles", {}).get(profile_id)
        if not info:
            return None
        if info.get("storage", "local") == "gcs" and self.gcs is not None:
            try:
                return {"voice_samples": self.gcs.download_voice_profile(info["blob_names"]),
                        "metadata": info.get("metadata", {}), "created_at": info.get("created_at")}
            except Exception:
                pass
        samples = [Path(p).read_bytes() for p in info.get("sample_paths", []) if Path(p).exists()]
        if not samples:
            return None
        return {"voice_samples": samples, "metadata": info.get("metadata", {}), "created_at": info.get("created_at")}

    def list_voice_profiles(self):
        out = []
        for pid, info in self.data.get("voice_profiles", {}).items():
            gcs = info.get("storage") == "gcs"
            out.append({"profile_id": pid, "storage": info.get("storage", "local"), "metadata": info.get("metadata", {}),
                        "created_at": info.get("created_at"),
                        "sample_count": len(info.get("blob_names", [])) if gcs else len(info.get("sample_paths", []))})
        return out

    def delete_voice_profile(self, profile_id):
        profiles = self.data.get("voice_profiles", {})
        info = profiles.get(profile_id)
        if not info:
            return False
        if info.get("storage", "local") == "gcs" and self.gcs is not None:
            try:
                self.gcs.delete_voice_profile(info["blob_names"])
            except Exception:
                pass
        else:
            allowed = (Path("voice_profiles") / self.user_id / profile_id).resolve()
            for p in info.get("sample_paths", []):
                resolved = Path(p).resolve()
                if resolved == allowed or allowed in resolved.parents:
                    resolved.unlink(missing_ok=True)
            try:
                (Path("voice_profiles") / self.user_id / profile_id).rmdir()
            except OSError:
                pass
        del profiles[profile_id]
        self.update("voice_profiles", profiles)
        return True


class EmulatorGCS:
    """The three calls the Dossier makes, over google-cloud-storage against STORAGE_EMULATOR_HOST."""

    def __init__(self, bucket):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage
        self.bucket = storage.Client(project="test", credentials=AnonymousCredentials()).bucket(bucket)

    def upload_voice_profile(self, profile_id, user_id, voice_samples):
        names = []
        for i, sample in enumerate(voice_samples):
            name = f"voice_profiles/{user_id}/{profile_id}/sample_{i}.wav"
            self.bucket.blob(name).upload_from_string(sample, content_type="audio/wav")
            names.append(name)
        return names

    def download_voice_profile(self, blob_names):
        return [self.bucket.blob(n).download_as_bytes() for n in blob_names]

    def delete_voice_profile(self, blob_names):
        n = 0
        for name in blob_names:
            self.bucket.blob(name).delete()
            n += 1
        return n
