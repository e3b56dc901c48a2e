#!/bin/bash
# Docker engine from Ubuntu's archive.
set -euo pipefail
sudo apt-get update -y
sudo DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io
sudo systemctl enable docker
