#include "agent/image/tiny_image_scripts.h"

namespace kumo::agent {

// PID 1 of the tiny VM. Runs under busybox ash; everything it needs is in the initramfs.
const char kTinyInitScript[] = R"SH(#!/bin/sh
# Kumo tiny VM: PID 1. Boot steps, then a shell on the serial console.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /tmp /run /var/run /var/log /mnt/cidata /www
mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1

# busybox poweroff/reboot/halt signal PID 1; act on them even while a shell runs.
trap 'sync; poweroff -f' USR2
trap 'sync; reboot -f' TERM
trap 'sync; halt -f' USR1

while read -r m; do
  [ -f "/lib/modules/$m.ko" ] && insmod "/lib/modules/$m.ko"
done < /etc/modules

# Disks show up asynchronously; give the boot disk a moment.
for i in 1 2 3 4 5 6 7 8 9 10; do
  [ -e /dev/vda ] && break
  sleep 0.1
done

# cloud-init NoCloud: a vfat or iso9660 filesystem labelled CIDATA.
HOST=kumo
cidata=$(findfs LABEL=CIDATA 2>/dev/null || findfs LABEL=cidata 2>/dev/null)
for dev in $cidata /dev/vd? /dev/sd? /dev/sr?; do
  [ -b "$dev" ] || continue
  if mount -o ro -t vfat "$dev" /mnt/cidata 2>/dev/null ||
     mount -o ro -t iso9660 "$dev" /mnt/cidata 2>/dev/null; then
    [ -f /mnt/cidata/meta-data ] && break
    umount /mnt/cidata
  fi
done
if [ -f /mnt/cidata/meta-data ]; then
  h=$(sed -n 's/.*local-hostname[^:]*:[[:space:]]*//p' /mnt/cidata/meta-data | head -n 1 |
      tr -d "\"'\r" | sed 's/[,}[:space:]].*//')
  [ -n "$h" ] && HOST=$h
  [ -f /mnt/cidata/user-data ] && cp /mnt/cidata/user-data /run/user-data
  [ -f /mnt/cidata/network-config ] && cp /mnt/cidata/network-config /run/network-config
fi
hostname "$HOST"
echo "$HOST" > /etc/hostname
echo "127.0.0.1 localhost $HOST" > /etc/hosts

# Network: DHCP on eth0. The udhcpc script installs the address and routes, including the
# /32 + 169.254.1.1 gateway of routed (Calico-style) networking.
ip link set lo up
for i in $(seq 1 50); do
  [ -e /sys/class/net/eth0 ] && break
  sleep 0.1
done
ip link set eth0 up
udhcpc -i eth0 -s /etc/udhcpc/default.script -x hostname:"$HOST" -O staticroutes \
  -t 10 -T 2 -A 5 -b -p /run/udhcpc.pid
IP=$(ip -4 -o addr show dev eth0 2>/dev/null | sed -n 's/.* inet \([0-9.]*\).*/\1/p' | head -n 1)

echo "kumo tiny vm $HOST $IP" > /www/index.html
httpd -p 80 -h /www
acpid -f </dev/null >/dev/null 2>&1 &

if [ -f /run/user-data ]; then
  if [ "$(head -c 2 /run/user-data)" = "#!" ]; then
    chmod 0700 /run/user-data
    HOSTNAME=$HOST IP=$IP /run/user-data </dev/null >/dev/console 2>&1 &
  else
    echo "kumo-tiny: user-data is not a script (#!); only scripts are supported"
  fi
fi

echo "KUMO-BOOT-OK ip=$IP"

# An interactive shell on the serial console, restarted when it exits. It runs in the
# background so that the traps above fire while it is running.
while :; do
  setsid cttyhack sh -l &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
  sleep 1
done
)SH";

// udhcpc event handler (busybox udhcpc passes the lease in environment variables).
const char kTinyUdhcpcScript[] = R"SH(#!/bin/sh
# udhcpc event script: address, routes and DNS from the lease.
case "$1" in
deconfig)
  ip -4 addr flush dev "$interface"
  ip link set "$interface" up
  ;;
bound|renew)
  ip -4 addr flush dev "$interface"
  ip addr add "$ip/${mask:-32}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
  while ip -4 route del default dev "$interface" 2>/dev/null; do :; done
  if [ -n "$staticroutes" ]; then
    # Classless static routes (option 121) replace the router option (RFC 3442).
    set -- $staticroutes
    while [ $# -ge 2 ]; do
      if [ "$2" = "0.0.0.0" ]; then
        ip route replace "$1" dev "$interface"
      else
        ip route replace "$2" dev "$interface" 2>/dev/null
        ip route replace "$1" via "$2" dev "$interface"
      fi
      shift 2
    done
  else
    for r in $router; do
      # A gateway outside the subnet (169.254.1.1 with a /32 address) needs a link route.
      ip route replace "$r" dev "$interface"
      ip route replace default via "$r" dev "$interface"
      break
    done
  fi
  : > /etc/resolv.conf
  [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
  for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
  ;;
esac
exit 0
)SH";

// busybox acpid runs this on the ACPI power button (QMP system_powerdown).
const char kTinyPowerButtonScript[] = R"SH(#!/bin/sh
sync
poweroff -f
)SH";

const char kTinyProfile[] = R"SH(export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PS1='# '
)SH";

const char kTinySyslinuxCfg[] = R"CFG(DEFAULT kumo
PROMPT 0
TIMEOUT 0
LABEL kumo
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 quiet
)CFG";

}  // namespace kumo::agent
