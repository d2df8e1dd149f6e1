"""WeChat: the protocol (signatures, AES, XML), the API gateway, inbound queueing, the outbox.

The only package that imports wechatpy.
"""
