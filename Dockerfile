# imageupdater controller image. Build: docker build -t ghcr.io/acme/imageupdater:0.1.0 .
FROM python:3.11-slim

# git: GitPython drives the git binary (clone, commit, push)
RUN apt-get update \
    && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 imageupdater \
    && useradd --uid 10001 --gid 10001 --home-dir /var/lib/imageupdater --create-home \
       --shell /usr/sbin/nologin imageupdater

WORKDIR /src
COPY pyproject.toml README.md ./
COPY imageupdater ./imageupdater
RUN pip install --no-cache-dir . && rm -rf /src

USER 10001:10001
WORKDIR /var/lib/imageupdater
ENV PYTHONUNBUFFERED=1 HOME=/var/lib/imageupdater
EXPOSE 8080
ENTRYPOINT ["imageupdater"]
CMD ["run", "--config", "/etc/imageupdater/config.yaml", "--listen", "0.0.0.0:8080", "--state-dir", "/var/lib/imageupdater"]
