"""Manifest snippets shared by the examples of several rules (not a rule: no ``caNNN_`` prefix).

The examples stay readable on their own: each one adds the resources its rule is about to this
small cluster (a BGPConfiguration advertising 10.20.0.0/16, the pod pool, one labelled
HostEndpoint).
"""

CLUSTER = """\
apiVersion: projectcalico.org/v3
kind: BGPConfiguration
metadata:
  name: default
spec:
  serviceClusterIPs:
  - cidr: 10.20.0.0/16
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: pods
spec:
  cidr: 192.168.0.0/16
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node1-eth0
  labels:
    k8s-role: node
spec:
  node: node1
  interfaceName: eth0
  expectedIPs: [10.0.0.11]
"""

SVC_A = """\
apiVersion: v1
kind: Service
metadata:
  name: svc-a
  namespace: shop
spec:
  clusterIP: 10.20.30.40
  selector:
    k8s-svc: svc-a
  ports:
  - name: https
    port: 443
    targetPort: 8443
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-a
  namespace: shop
spec:
  selector:
    matchLabels: {k8s-svc: svc-a}
  template:
    metadata:
      labels: {k8s-svc: svc-a}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 8443
"""

HOST_TRAFFIC = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-host-traffic
spec:
  selector: k8s-role == 'node'
  order: 300
  ingress:
  - action: Allow
    protocol: TCP
    destination:
      notPorts: ["30000:32767"]
  - action: Allow
    protocol: UDP
    destination:
      notPorts: ["30000:32767"]
  egress:
  - action: Allow
"""

PODS_ALLOW_NODES = """\
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: allow-nodes-svc-a
spec:
  selector: k8s-svc == 'svc-a'
  ingress:
  - action: Allow
    protocol: TCP
    source:
      selector: k8s-role == 'node'
    destination:
      ports: [8443]
"""
