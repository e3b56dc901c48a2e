#!/bin/bash
# CIS-style hardening for Ubuntu build images.
set -euo pipefail
echo "Applying updates"
sudo apt-get update -y
sudo DEBIAN_FRONTEND=noninteractive apt-get upgrade -y
echo "Disabling unused filesystems"
for fs in cramfs freevxfs jffs2 hfs hfsplus udf; do
  echo "install $fs /bin/true" | sudo tee "/etc/modprobe.d/$fs.conf" >/dev/null
done
echo "Hardening sshd"
sudo sed -i 's/^#\?PermitRootLogin.*/PermitRootLogin no/' /etc/ssh/sshd_config
sudo sed -i 's/^#\?PasswordAuthentication.*/PasswordAuthentication no/' /etc/ssh/sshd_config
echo "Hardening done"
