"""The packet path: Calico's and kube-proxy's treatment of a flow, and the questions rules ask of it.

Rules, ``audit trace`` and the exposure map use :mod:`auditor.packet.questions` only.
"""
