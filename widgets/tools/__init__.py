"""Command-line tools for the course's notebooks, not views:

    MINIGPT_SCALE=ci python -m widgets.tools.store notebook.ipynb   run it and store it readable with no kernel
    python -m widgets.tools.export notebook.ipynb [out.html]        one HTML page that shows every figure offline
"""
